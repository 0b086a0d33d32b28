"""Torch detectors: determinism, early stopping, the epoch hook, state_dict IO, the MLP's labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from models.base import BaseDetector
from models.registry import make_detector
from models.torch_nets import WEIGHTS_FILE

TORCH_DETECTORS = ["autoencoder", "vae", "mlp"]


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, np.ndarray]:
    """Anomalies are rows whose feature 2 is high: a pattern a supervised model can learn."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(500, 6))
    y = np.zeros(500, dtype=int)
    y[:40] = 1
    X[:40, 2] += rng.uniform(3.0, 5.0, size=40)
    return X, y


@pytest.mark.parametrize("name", TORCH_DETECTORS)
def test_same_random_state_same_model_and_global_rng_untouched(name, labelled):
    X, y = labelled
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = make_detector(name, epochs=5, random_state=7).fit(X, y)
    after = torch.rand(1)
    second = make_detector(name, epochs=5, random_state=7).fit(X, y)
    np.testing.assert_array_equal(first.decision_function(X), second.decision_function(X))
    assert torch.equal(before, after)  # fitting does not consume or reseed the global generator
    third = make_detector(name, epochs=5, random_state=8).fit(X, y)
    assert not np.array_equal(first.decision_function(X), third.decision_function(X))


@pytest.mark.parametrize("name", TORCH_DETECTORS)
def test_epoch_callback_can_stop_and_its_exception_propagates(name, labelled):
    X, y = labelled
    seen: list[tuple[int, float]] = []

    def stop_after_three(epoch: int, loss: float) -> bool:
        seen.append((epoch, loss))
        return epoch == 2

    detector = make_detector(name, epochs=50, epoch_callback=stop_after_three).fit(X, y)
    assert [e for e, _ in seen] == [0, 1, 2] and len(detector.history_) == 3
    assert all(np.isfinite(loss) for _, loss in seen)

    class Pruned(Exception):
        pass

    def prune(epoch: int, loss: float) -> bool:
        raise Pruned

    with pytest.raises(Pruned):
        make_detector(name, epochs=50, epoch_callback=prune).fit(X, y)


def test_early_stopping_ends_before_the_epoch_budget(labelled):
    X, _ = labelled
    detector = make_detector("autoencoder", epochs=400, patience=3, learning_rate=3e-2).fit(X)
    assert len(detector.history_) < 400


@pytest.mark.parametrize("name", TORCH_DETECTORS)
def test_weights_are_a_plain_state_dict_and_callbacks_are_not_saved(name, labelled, tmp_path):
    X, y = labelled
    detector = make_detector(name, epochs=5, epoch_callback=lambda e, loss: False).fit(X, y)
    detector.save(tmp_path / name)
    state = torch.load(tmp_path / name / WEIGHTS_FILE, weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = BaseDetector.load(tmp_path / name)
    assert loaded.epoch_callback is None
    np.testing.assert_array_equal(loaded.decision_function(X), detector.decision_function(X))


def test_mlp_weights_the_rare_class_and_explains_the_learned_pattern(labelled):
    X, y = labelled
    detector = make_detector("mlp", epochs=60).fit(X, y)
    train_positives = round(0.8 * 40)
    assert float(detector.pos_weight_) == pytest.approx((400 - train_positives) / train_positives, rel=0.05)
    explained = detector.explain(X[:40], top_k=1)
    assert (explained["feature_1"] == "x2").mean() >= 0.9


def test_mlp_needs_both_classes(labelled):
    X, _ = labelled
    with pytest.raises(ValueError, match="labels"):
        make_detector("mlp").fit(X)
    with pytest.raises(ValueError, match="both classes"):
        make_detector("mlp").fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("name", ["autoencoder", "vae"])
def test_reconstruction_explanation_is_the_per_feature_error(name, labelled):
    X, _ = labelled
    detector = make_detector(name, epochs=20).fit(X)
    contributions = detector.feature_contributions(X[:25])
    assert (contributions >= 0).all()
    np.testing.assert_allclose(contributions.sum(axis=1), detector.decision_function(X[:25]), rtol=1e-5)


def test_reconstruction_error_is_standardised_per_feature():
    """Two pure-noise features no code can reconstruct must not drown a broken correlation.

    Four features share one factor (reconstructable through a 1-d code); anomalies break it on
    feature 0 alone. Summed raw errors are dominated by the noise features' large, varying error;
    each feature's error divided by its usual training error is not.
    """
    rng = np.random.default_rng(5)
    n = 600
    factor = rng.normal(size=(n, 1))
    X = np.hstack([factor + 0.05 * rng.normal(size=(n, 4)), rng.normal(size=(n, 2))])
    y = np.zeros(n, dtype=int)
    y[:30] = 1
    X[:30, 0] += rng.choice([-1.0, 1.0], size=30) * rng.uniform(0.6, 1.0, size=30)
    detector = make_detector("autoencoder", latent_dim=1, epochs=60, n_members=2).fit(X[30:])
    scores = detector.decision_function(X)
    assert roc_auc_score(y, scores) > 0.95
    assert detector.error_scale_.shape == (2, 6) and detector.error_scale_[:, 4:].min() > 5 * detector.error_scale_[:, :4].max()
    top = detector.explain(X[:30], top_k=1)["feature_1"]
    assert (top == "x0").mean() > 0.9
