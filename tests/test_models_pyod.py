"""PyOD wrappers: what they add over calling PyOD directly."""

from __future__ import annotations

import numpy as np
import pytest
from pyod.models.cblof import CBLOF

from models.registry import make_detector


def _equal_blobs(n_per_blob: int = 40) -> np.ndarray:
    """Eight tight, equal-sized clusters: no split into large and small clusters meets PyOD's alpha or beta."""
    rng = np.random.default_rng(0)
    centres = np.array([[x, y] for x in (0, 10) for y in (0, 10)] + [[x, y] for x in (20, 30) for y in (0, 10)], float)
    return np.vstack([c + 0.1 * rng.normal(size=(n_per_blob, 2)) for c in centres])


def test_cblof_fits_where_pyod_cannot_split_the_clusters():
    X = _equal_blobs()
    with pytest.raises(ValueError, match="cluster separation"):
        CBLOF(n_clusters=8, random_state=42).fit(X)
    detector = make_detector("cblof", contamination=0.05).fit(X)
    far = np.array([[5.0, 5.0], [25.0, 5.0]])  # between the clusters
    # One of the eight clusters is now "small" (its rows score as outliers too): far rows beat the rest.
    assert detector.decision_function(far).min() > np.quantile(detector.decision_function(X), 0.85)


def test_training_rows_above_the_cap_are_subsampled_reproducibly():
    X = np.random.default_rng(1).normal(size=(300, 3))
    a, b = (make_detector("knn", max_train_rows=100).fit(X) for _ in range(2))
    assert a.train_.shape == (100, 3)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
