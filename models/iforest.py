"""Isolation Forest (scikit-learn) behind the shopguard detector contract."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from models.base import BaseDetector
from models.registry import register


@register
class IsolationForestDetector(BaseDetector):
    name = "isolation_forest"

    def __init__(self, n_estimators: int = 200, max_samples: int | float | str = "auto",
                 max_features: float = 1.0, random_state: int = 42, **kw):
        super().__init__(**kw)
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples,
            max_features=self.max_features, random_state=self.random_state, n_jobs=1,
        ).fit(Z)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(Z)
