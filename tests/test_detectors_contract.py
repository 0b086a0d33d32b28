"""One contract, every registered detector (PyOD-style): the behaviour callers rely on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.base import BaseDetector, NotFittedError
from models.registry import detector_class, detector_names, make_detector

N_FEATURES = 8
CONTAMINATION = 0.05
# Small and quick: the contract is about behaviour, not accuracy at scale.
FAST_PARAMS = {
    "autoencoder": {"epochs": 30, "batch_size": 64},
    "vae": {"epochs": 30, "batch_size": 64},
    "mlp": {"epochs": 30, "batch_size": 64},
    "isolation_forest": {"n_estimators": 50},
    "ensemble": {"member_params": {"isolation_forest": {"n_estimators": 50}}},
    "label_free": {"member_params": {"isolation_forest": {"n_estimators": 50}}},
}
AUC_FLOOR = 0.9


def planted(n_normal: int, n_anomalies: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Correlated normal rows plus anomalies of four kinds, each pushed far out along its own direction.

    The kinds (directions) are the same in every call, as fraud patterns recur between days,
    so a supervised detector can learn them; each anomaly also gets its own jitter and distance.
    """
    rng = np.random.default_rng(seed)
    kinds = np.random.default_rng(99).normal(size=(4, N_FEATURES))
    mix = np.random.default_rng(98).normal(size=(N_FEATURES, N_FEATURES)) / np.sqrt(N_FEATURES)
    normal = rng.normal(size=(n_normal, N_FEATURES)) @ mix + 5.0
    directions = kinds[rng.integers(0, len(kinds), n_anomalies)] + 0.3 * rng.normal(size=(n_anomalies, N_FEATURES))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    anomalies = 5.0 + directions * rng.uniform(4.0, 7.0, size=(n_anomalies, 1))
    X = pd.DataFrame(np.vstack([normal, anomalies]), columns=[f"f{i}" for i in range(N_FEATURES)])
    return X, np.r_[np.zeros(n_normal), np.ones(n_anomalies)].astype(int)


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    return {"train": planted(570, 30, seed=0), "test": planted(285, 15, seed=1)}


@pytest.fixture(scope="module")
def fitted(data) -> dict[str, BaseDetector]:
    X, y = data["train"]
    return {name: make_detector(name, contamination=CONTAMINATION, **FAST_PARAMS.get(name, {})).fit(X, y)
            for name in detector_names()}


def test_registry_covers_the_issue_list():
    assert set(detector_names()) >= {"gaussian", "gmm", "isolation_forest", "ecod", "copod", "autoencoder",
                                     "vae", "mlp", "ensemble", "knn", "lof", "hbos", "cblof", "pca", "label_free"}


@pytest.mark.parametrize("name", detector_names())
def test_constructor_only_stores_parameters_and_unfitted_use_raises(name, data):
    detector = make_detector(name, **FAST_PARAMS.get(name, {}))
    assert not [a for a in vars(detector) if a.endswith("_")]
    X, _ = data["test"]
    for call in (detector.decision_function, detector.predict, detector.explain):
        with pytest.raises(NotFittedError):
            call(X)


@pytest.mark.parametrize("name", detector_names())
def test_fit_returns_self_and_outputs_have_the_right_shapes(name, data):
    X, y = data["train"]
    detector = make_detector(name, contamination=CONTAMINATION, **FAST_PARAMS.get(name, {}))
    assert detector.fit(X, y) is detector
    X_test, _ = data["test"]
    scores = detector.decision_function(X_test)
    assert scores.shape == (len(X_test),) and scores.dtype == np.float64 and np.isfinite(scores).all()
    labels = detector.predict(X_test)
    assert labels.shape == (len(X_test),) and set(np.unique(labels)) <= {0, 1}
    assert np.array_equal(labels, (scores > detector.threshold_).astype(int))
    contrib = detector.feature_contributions(X_test.iloc[:20])
    assert contrib.shape == (20, N_FEATURES) and np.isfinite(contrib).all()


@pytest.mark.parametrize("name", detector_names())
def test_planted_anomalies_reach_the_auc_floor(name, fitted, data):
    X, y = data["test"]
    assert roc_auc_score(y, fitted[name].decision_function(X)) >= AUC_FLOOR


@pytest.mark.parametrize("name", detector_names())
def test_flagged_share_matches_contamination(name, fitted, data):
    X, _ = data["train"]
    assert abs(fitted[name].predict(X).mean() - CONTAMINATION) <= 0.01


@pytest.mark.parametrize("name", detector_names())
def test_save_then_load_gives_identical_scores(name, fitted, data, tmp_path):
    detector = fitted[name]
    detector.save(tmp_path / name)
    loaded = BaseDetector.load(tmp_path / name)
    assert type(loaded) is type(detector) and loaded.threshold_ == detector.threshold_
    X, _ = data["test"]
    np.testing.assert_array_equal(loaded.decision_function(X), detector.decision_function(X))
    pd.testing.assert_frame_equal(loaded.explain(X.iloc[:10]), detector.explain(X.iloc[:10]))
    # Nothing pickled: every array file opens with pickles refused.
    with np.load(tmp_path / name / "state.npz", allow_pickle=False) as npz:
        assert all(npz[k] is not None for k in npz.files)


@pytest.mark.parametrize("name", detector_names())
def test_clone_is_unfitted_with_equal_params_and_refits_identically(name, fitted, data):
    detector = fitted[name]
    twin = detector.clone()
    assert twin.get_params() == detector.get_params()
    with pytest.raises(NotFittedError):
        twin.decision_function(data["test"][0])
    X, y = data["train"]
    np.testing.assert_allclose(twin.fit(X, y).decision_function(data["test"][0]),
                               detector.decision_function(data["test"][0]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", detector_names())
def test_dataframe_columns_are_matched_by_name_and_missing_values_imputed(name, fitted, data):
    detector = fitted[name]
    X, _ = data["test"]
    shuffled = X[X.columns[::-1]].assign(user_id="u1")  # reordered, plus a non-feature column
    np.testing.assert_allclose(detector.decision_function(shuffled), detector.decision_function(X))
    holes = X.copy()
    holes.iloc[::7, 2] = np.nan
    assert np.isfinite(detector.decision_function(holes)).all()
    with pytest.raises(ValueError, match="lacks"):
        detector.decision_function(X.drop(columns=["f3"]))
    with pytest.raises(ValueError, match="features"):
        detector.decision_function(X.to_numpy()[:, :5])


UNSUPERVISED = [n for n in detector_names() if not detector_class(n).supervised]


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_explain_names_the_feature_that_was_pushed_out(name, fitted, data):
    # Unsupervised only: a supervised model flags the patterns it was taught, not any outlier
    # (the MLP's explanation is checked on a learned pattern in test_models_torch).
    X, _ = data["test"]
    normal_rows = X.iloc[:40].copy()
    pushed = normal_rows.copy()
    feature_of_row = np.arange(len(pushed)) % N_FEATURES
    for row, feature in enumerate(feature_of_row):
        pushed.iloc[row, feature] += 8.0
    explained = fitted[name].explain(pushed, top_k=3)
    assert list(explained.columns) == ["feature_1", "contribution_1", "feature_2", "contribution_2",
                                       "feature_3", "contribution_3"]
    hits = (explained["feature_1"].to_numpy() == X.columns.to_numpy()[feature_of_row]).mean()
    assert hits >= 0.8


def test_a_model_saved_before_a_parameter_existed_loads_with_its_old_behaviour(fitted, data, tmp_path):
    """xgbod's blend_raw came later: a save without it must score as it did (its threshold
    belongs to those scores), not take the new default."""
    import json

    detector = fitted["xgbod"]
    old = type(detector)(**{**detector.get_params(), "blend_raw": False}).fit(*data["train"])
    path = old.save(tmp_path / "old")
    meta = json.loads((path / "detector.json").read_text())
    del meta["params"]["blend_raw"]
    (path / "detector.json").write_text(json.dumps(meta))
    loaded = BaseDetector.load(path)
    assert loaded.blend_raw is False
    X_test = data["test"][0]
    np.testing.assert_array_equal(loaded.decision_function(X_test), old.decision_function(X_test))
    assert not np.array_equal(detector.decision_function(X_test), old.decision_function(X_test))
