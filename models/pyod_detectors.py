"""PyOD's maintained detectors behind the shopguard contract: KNN, LOF, HBOS, CBLOF and PCA.

Each wrapper builds the PyOD estimator from explicit constructor parameters and fits it on the
contract's imputed, robustly scaled matrix; the score is PyOD's ``decision_function`` (higher =
more anomalous), the explanation the base class's occlusion.

Persistence without pickles: PyOD keeps fitted state in arbitrary Python objects (neighbour
trees, histograms), so a saved wrapper stores the matrix it was fitted on (``state.npz``) and
refits the estimator from it on load. Every wrapped fit here is deterministic, so a reloaded
model scores identically (the contract test checks it). ``max_train_rows`` caps that matrix
(and the neighbour search's cost) with a seeded subsample.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from pyod.models.cblof import CBLOF
from pyod.models.hbos import HBOS
from pyod.models.knn import KNN
from pyod.models.lof import LOF
from pyod.models.pca import PCA

from models.base import BaseDetector
from models.registry import register


class _PyODDetector(BaseDetector):
    """Fits ``_estimator()`` on (a seeded subsample of) the scaled training rows."""

    def __init__(self, max_train_rows: int | None = 50_000, random_state: int = 42, **kw):
        super().__init__(**kw)
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    @abstractmethod
    def _estimator(self, n_rows: int, n_features: int) -> Any:
        """An unfitted PyOD detector for a training matrix of this shape."""

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        if self.max_train_rows is not None and len(Z) > self.max_train_rows:
            rows = np.random.default_rng(self.random_state).choice(len(Z), self.max_train_rows, replace=False)
            Z = Z[np.sort(rows)]
        self.train_ = np.ascontiguousarray(Z, dtype=np.float64)
        self.estimator_ = self._estimator(*self.train_.shape).fit(self.train_)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator_.decision_function(Z), dtype=np.float64)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"train": self.train_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.train_ = state["train"]
        self.estimator_ = self._estimator(*self.train_.shape).fit(self.train_)


@register
class KNNDetector(_PyODDetector):
    """Distance to the k-th nearest training row (PyOD ``KNN``, ``method`` largest/mean/median)."""

    name = "knn"

    def __init__(self, n_neighbors: int = 5, method: str = "largest", **kw):
        super().__init__(**kw)
        self.n_neighbors = n_neighbors
        self.method = method

    def _estimator(self, n_rows: int, n_features: int) -> KNN:
        return KNN(n_neighbors=min(self.n_neighbors, n_rows - 1), method=self.method)


@register
class LOFDetector(_PyODDetector):
    """Local outlier factor: density relative to the row's neighbours (PyOD ``LOF``)."""

    name = "lof"

    def __init__(self, n_neighbors: int = 20, **kw):
        super().__init__(**kw)
        self.n_neighbors = n_neighbors

    def _estimator(self, n_rows: int, n_features: int) -> LOF:
        return LOF(n_neighbors=min(self.n_neighbors, n_rows - 1))


@register
class HBOSDetector(_PyODDetector):
    """Histogram-based outlier score: summed per-feature log inverse histogram density (PyOD ``HBOS``)."""

    name = "hbos"

    def __init__(self, n_bins: int | str = 10, alpha: float = 0.1, **kw):
        super().__init__(**kw)
        self.n_bins = n_bins
        self.alpha = alpha

    def _estimator(self, n_rows: int, n_features: int) -> HBOS:
        return HBOS(n_bins=self.n_bins, alpha=self.alpha)


@register
class CBLOFDetector(_PyODDetector):
    """Cluster-based local outlier factor: distance to the nearest large k-means cluster (PyOD ``CBLOF``)."""

    name = "cblof"

    def __init__(self, n_clusters: int = 8, alpha: float = 0.9, beta: float = 5.0, **kw):
        super().__init__(**kw)
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.beta = beta

    def _estimator(self, n_rows: int, n_features: int) -> CBLOF:
        return _SeparatingCBLOF(n_clusters=min(self.n_clusters, n_rows), alpha=self.alpha, beta=self.beta,
                                random_state=self.random_state)


class _SeparatingCBLOF(CBLOF):
    """CBLOF that still fits when no cluster split meets ``alpha`` or ``beta`` (near-equal clusters).

    PyOD then raises; with k clusters the largest k - 1 always hold at least (k - 1) / k of the
    rows, so refitting with that ``alpha`` always finds a split.
    """

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> CBLOF:
        try:
            return super().fit(X, y)
        except ValueError as exc:
            if "cluster separation" not in str(exc):
                raise
            self.alpha = (self.n_clusters - 1) / self.n_clusters
            return super().fit(X, y)


@register
class PCADetector(_PyODDetector):
    """Variance-weighted distance to the principal subspace (PyOD ``PCA``, full SVD so refits are exact)."""

    name = "pca"

    def __init__(self, n_components: int | float | None = None, **kw):
        super().__init__(**kw)
        self.n_components = n_components

    def _estimator(self, n_rows: int, n_features: int) -> PCA:
        return PCA(n_components=self.n_components, svd_solver="full", random_state=self.random_state)
