"""Block-wise, threaded scoring gives the same numbers as scoring the whole prepared matrix at once.

``decision_function`` imputes, scales and scores rows in blocks (several threads for some
detectors), and the ensemble scores its members on its own prepared block. These tests shrink the
block size so a small matrix spans many blocks and compare against the one-shot computation.
"""

from __future__ import annotations

import numpy as np
import pytest

import models.base
from models.ensemble import RankEnsembleDetector
from models.registry import make_detector

FAST = {"isolation_forest": {"n_estimators": 20}, "autoencoder": {"epochs": 3}, "vae": {"epochs": 3},
        "ensemble": {"member_params": {"isolation_forest": {"n_estimators": 20}}}}
DEPLOYABLE = ["isolation_forest", "gaussian", "gmm", "ecod", "copod", "autoencoder", "vae", "ensemble"]
EXACT = {"isolation_forest", "ecod", "copod"}  # no BLAS: bit-identical whatever the blocking


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    train = np.column_stack([rng.normal(size=(600, 3)), rng.lognormal(0, 2, size=(600, 2)),
                             rng.integers(0, 4, size=(600, 2))])  # heavy tails and ties
    test = np.column_stack([rng.normal(size=(700, 3)) * 2, rng.lognormal(0, 2.5, size=(700, 2)),
                            rng.integers(-1, 6, size=(700, 2))])
    test[::11, 4] = np.nan
    test[5, 0], test[6, 1] = np.inf, -np.inf
    return train, test


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(models.base, "SCORE_BLOCK_ROWS", 64)  # 700 rows -> 11 blocks


def _one_shot(detector, X: np.ndarray) -> np.ndarray:
    return detector._score(detector._prepare(X, reset=False))


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_blocked_scores_equal_one_shot_scores(name, table, small_blocks):
    train, test = table
    detector = make_detector(name, **FAST.get(name, {})).fit(train)
    blocked = detector.decision_function(test)
    if name in EXACT:
        np.testing.assert_array_equal(blocked, _one_shot(detector, test))
    else:
        np.testing.assert_allclose(blocked, _one_shot(detector, test), rtol=1e-6, atol=1e-9)
    # float32 input is widened block by block: the same scores as the float64 copy of it.
    test32 = test.astype(np.float32)
    np.testing.assert_array_equal(detector.decision_function(test32), detector.decision_function(test32.astype(float)))
    np.testing.assert_allclose(detector.feature_contributions(test[:130]),
                               detector._contributions(detector._prepare(test[:130], reset=False)),
                               rtol=1e-6, atol=1e-9)


def test_ensemble_equals_its_members_scored_through_their_public_api(table, small_blocks):
    train, test = table
    ensemble: RankEnsembleDetector = make_detector("ensemble", **FAST["ensemble"]).fit(train)
    Z = ensemble._prepare(test, reset=False)
    ranks = [c.transform(m.decision_function(Z)) for m, c in zip(ensemble.members_, ensemble.calibrators_, strict=True)]
    np.testing.assert_allclose(ensemble.decision_function(test), np.mean(ranks, axis=0), rtol=1e-12, atol=1e-12)


def _reference_tails(detector, j: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ECDF lookup as first written (every case spelled out); the fast version must agree."""
    lo, hi = detector.knot_offsets_[j], detector.knot_offsets_[j + 1]
    v, cle, clt = detector.knots_[lo:hi], detector.count_le_[lo:hi], detector.count_lt_[lo:hi]
    n = float(detector.n_train_)
    k = np.searchsorted(v, x, side="right") - 1
    kc = np.clip(k, 0, len(v) - 1)
    nxt = np.minimum(kc + 1, len(v) - 1)
    gap = v[nxt] - v[kc]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(gap > 0, (x - v[kc]) / gap, 0.0)
    between = cle[kc] + frac * (clt[nxt] - cle[kc])
    exact = v[kc] == x
    count_le = np.where(k < 0, 0.0, np.where(exact, cle[kc], np.where(kc == len(v) - 1, n, between)))
    count_ge = np.where(exact & (k >= 0), n - clt[kc], n - count_le)
    return np.log(n + 1.0) - np.log1p(count_le), np.log(n + 1.0) - np.log1p(count_ge)


@pytest.mark.parametrize("max_knots", [4096, 16])
def test_ecdf_lookup_equals_the_reference_formula(table, max_knots):
    train, test = table
    detector = make_detector("ecod", max_knots=max_knots).fit(train)
    Z = detector._prepare(np.vstack([test, train[:50]]), reset=False)  # new values and exact knots
    for j in range(Z.shape[1]):
        for ours, reference in zip(detector._tails(j, Z[:, j].copy()), _reference_tails(detector, j, Z[:, j]),
                                   strict=True):
            np.testing.assert_array_equal(ours, reference)
