"""Label-aware detector: scikit-learn's HistGradientBoostingClassifier behind the detector contract.

For when labelled days exist (confirmed fraud from the review queue). The score is the
classifier's log-odds of "anomaly" (``decision_function``), so higher = more anomalous and, unlike
a probability, it does not saturate at 1 for the rows on-call sees first. Like every detector the
alert threshold is the training-score percentile (or contamination quantile).

Persistence without pickles: HistGradientBoosting has no public array export of its trees (its
predictors are private objects), and skops would need its private tree types listed as trusted.
So the detector saves what it was fitted on (the preprocessed training matrix and labels, plain
arrays in ``state.npz``) and refits on load. The refit is exact: early stopping is off (no
random validation split), ``random_state`` is fixed, and histogram building is deterministic, so a
loaded model scores bit-for-bit like the saved one (the contract test checks it). The costs are
honest ones: the saved model is as large as its training matrix, and loading takes one fit
(about a second on a week of a few thousand users).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from models.base import BaseDetector
from models.registry import register

# One OpenMP thread: on a busy 2-core host OpenMP's spin-waiting made a 1000-row fit 20x slower
# with two threads (16 s against 0.8 s), and trees on a few thousand rows gain little from threads.
_OPENMP_THREADS = 1


@register
class GradientBoostingDetector(BaseDetector):
    """Histogram gradient boosting on the scaled features; needs labels y (1 = anomaly)."""

    name = "gradient_boosting"
    supervised = True

    def __init__(self, learning_rate: float = 0.1, max_iter: int = 100, max_leaf_nodes: int = 31,
                 min_samples_leaf: int = 20, l2_regularization: float = 0.0, class_weight: str | None = None,
                 random_state: int = 42, **kw):
        super().__init__(**kw)
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.random_state = random_state

    def _classifier(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            class_weight=self.class_weight, early_stopping=False, random_state=self.random_state)

    def _classifier_inputs(self, Z: np.ndarray) -> np.ndarray:
        """The matrix the classifier sees for preprocessed rows ``Z`` (subclasses add columns)."""
        return Z

    def _fit_classifier(self, inputs: np.ndarray, y: np.ndarray) -> None:
        self.training_inputs_ = np.ascontiguousarray(inputs, dtype=np.float64)
        self.training_labels_ = np.asarray(y, dtype=np.int8)
        with threadpool_limits(_OPENMP_THREADS, user_api="openmp"):
            self.classifier_ = self._classifier().fit(self.training_inputs_, self.training_labels_)

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        assert y is not None  # the base class checks supervised detectors get labels
        self._fit_classifier(self._classifier_inputs(Z), y)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        inputs = self._classifier_inputs(Z)
        with threadpool_limits(_OPENMP_THREADS, user_api="openmp"):
            return np.asarray(self.classifier_.decision_function(inputs), dtype=np.float64)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"training_inputs": self.training_inputs_, "training_labels": self.training_labels_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._fit_classifier(state["training_inputs"], state["training_labels"])  # exact refit: module doc
