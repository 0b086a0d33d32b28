"""Detectors whose maths can be checked exactly: against closed forms, PyOD and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from scipy.stats import multivariate_normal, spearmanr
from sklearn.ensemble import IsolationForest

from models.base import BaseDetector
from models.registry import make_detector


@pytest.fixture(scope="module")
def mixed() -> np.ndarray:
    """Gaussian, count (many ties) and skewed columns, as user-day features look."""
    rng = np.random.default_rng(3)
    return np.c_[rng.normal(size=(1500, 3)) @ rng.normal(size=(3, 3)), rng.poisson(0.7, size=(1500, 3)),
                 rng.exponential(2.0, size=(1500, 2))]


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gaussian_score_is_minus_log_density_and_terms_sum_to_it(covariance, mixed):
    detector = make_detector("gaussian", covariance=covariance).fit(mixed)
    Z = detector._prepare(mixed[:50], reset=False)
    cov = np.linalg.inv(detector.precision_)
    expected = -multivariate_normal(mean=detector.mean_, cov=cov).logpdf(Z)
    scores = detector.decision_function(mixed[:50])
    np.testing.assert_allclose(scores, expected, rtol=1e-8)
    np.testing.assert_allclose(detector.feature_contributions(mixed[:50]).sum(axis=1), scores, rtol=1e-8)


def test_gaussian_diag_terms_are_the_per_feature_z_terms(mixed):
    detector = make_detector("gaussian", covariance="diag").fit(mixed)
    Z = detector._prepare(mixed[:20], reset=False)
    var = 1.0 / np.diag(detector.precision_)
    expected = (Z - detector.mean_) ** 2 / (2 * var) + 0.5 * np.log(2 * np.pi * var)
    np.testing.assert_allclose(detector.feature_contributions(mixed[:20]), expected, rtol=1e-8)


@pytest.mark.parametrize(("name", "reference"), [("ecod", ECOD), ("copod", COPOD)])
def test_tail_detectors_match_pyod_on_training_data(name, reference, mixed):
    ours = make_detector(name).fit(mixed)
    theirs = reference().fit(mixed)
    assert spearmanr(ours.decision_function(mixed), theirs.decision_scores_).statistic > 0.999
    contributions = ours.feature_contributions(mixed[:30])
    np.testing.assert_allclose(contributions.sum(axis=1), ours.decision_function(mixed[:30]), rtol=1e-10)


def test_ecdf_tail_probabilities_are_exact_with_ties():
    X = np.c_[np.r_[np.zeros(90), np.ones(9), 5.0], np.arange(100.0)]
    detector = make_detector("ecod").fit(X)
    Z = detector._prepare(np.array([[0.0, 0.0], [5.0, 99.0], [7.0, -3.0]]), reset=False)
    u_left, u_right = detector._tails(0, Z[:, 0])
    # P(X <= 0) = 90/100, P(X >= 0) = 1; P(X >= 5) = 1/100; beyond the maximum: 0/100 (add-one smoothed)
    np.testing.assert_allclose(np.exp(-u_left[0]), 91 / 101)
    np.testing.assert_allclose(np.exp(-u_right[0]), 101 / 101)
    np.testing.assert_allclose(np.exp(-u_right[1]), 2 / 101)
    np.testing.assert_allclose(np.exp(-u_right[2]), 1 / 101)


def test_ecdf_knot_compression_keeps_the_ranking(mixed):
    exact = make_detector("ecod").fit(mixed)
    compressed = make_detector("ecod", max_knots=64).fit(mixed)
    assert compressed.knots_.size < exact.knots_.size
    assert spearmanr(exact.decision_function(mixed), compressed.decision_function(mixed)).statistic > 0.99


def test_isolation_forest_scores_equal_scikit_learn_and_survive_reload(mixed, tmp_path):
    detector = make_detector("isolation_forest", n_estimators=40, max_features=0.6, random_state=5).fit(mixed)
    Z = detector._prepare(mixed, reset=False)
    reference = IsolationForest(n_estimators=40, max_features=0.6, random_state=5).fit(Z)
    np.testing.assert_allclose(detector.decision_function(mixed), -reference.score_samples(Z), rtol=1e-12)
    loaded = BaseDetector.load(detector.save(tmp_path / "forest"))
    np.testing.assert_array_equal(loaded.decision_function(mixed), detector.decision_function(mixed))


def test_gmm_reload_rebuilds_the_mixture_without_pickles(mixed, tmp_path):
    detector = make_detector("gmm", n_components=3, covariance_type="diag").fit(mixed)
    loaded = BaseDetector.load(detector.save(tmp_path / "gmm"))
    np.testing.assert_allclose(loaded.decision_function(mixed), detector.decision_function(mixed), rtol=1e-12)
    np.testing.assert_allclose(loaded.feature_contributions(mixed[:5]), detector.feature_contributions(mixed[:5]))


def test_ensemble_rank_is_monotone_past_the_training_maximum(mixed):
    detector = make_detector("ensemble", member_params={"isolation_forest": {"n_estimators": 30}}).fit(mixed)
    far = np.tile(mixed[:1], (4, 1))
    far[:, 0] = mixed[:, 0].max() + np.array([10.0, 20.0, 40.0, 80.0]) * mixed[:, 0].std()
    scores = detector.decision_function(far)
    assert np.all(np.diff(scores) > 0) and scores[-1] > 1.0  # ranks keep growing past the maximum


def test_ensemble_rejects_supervised_members(mixed):
    with pytest.raises(ValueError, match="unsupervised"):
        make_detector("ensemble", members=["ecod", "mlp"]).fit(mixed)
