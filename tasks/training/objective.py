"""One trial: fit a detector with given parameters on the window and measure it.

``evaluate_trial`` is a pure function of (detector name, parameters, data): no Optuna, MLflow or
global state, so a Dask (or any) executor can run it on another worker unchanged.

Label-free detectors fit on ``X_fit`` (known anomalies left out); label-aware ones on
``X_fit_labelled``/``y_fit`` (the labelled rows of the same fit days). Both are judged on the same
later held-out rows, whose labels are used only for the metrics.

Objective:
- with labelled held-out days: ``val_recall_at_budget``, the recall at the alert budget (the top
  ``budget_rate`` share of held-out rows; see ``tasks.training.metrics``): every model is judged
  flagging as many rows as on-call can review, whatever its default threshold would flag;
- without labels, the documented fallback ``label_free_stability``: the detector is refitted on a
  random half of the fit rows and the objective is the overlap (Jaccard) of the top-k alert sets
  that the full and the half model pick on the held-out rows. A detector whose alerts are
  structure in the data rather than noise of its fit picks the same users; constant or random
  scores do not. k is the daily alert budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from models.base import BaseDetector
from models.registry import detector_class, make_detector
from tasks.training.metrics import (
    LABEL_FREE_OBJECTIVE,
    OBJECTIVE_METRIC,
    budget_threshold,
    validation_metrics,
)

LABEL_AWARE, LABEL_FREE = "label-aware", "label-free"


def model_kind(detector_name: str) -> str:
    """``label-aware`` for detectors that learn from labels, else ``label-free``."""
    return LABEL_AWARE if detector_class(detector_name).supervised else LABEL_FREE


@dataclass(frozen=True)
class TrialData:
    """Everything a trial reads; plain frames and arrays so it pickles to a remote worker."""

    X_fit: pd.DataFrame
    X_val: pd.DataFrame
    y_val: np.ndarray | None
    threshold_percentile: float
    alert_budget: int
    seed: int
    budget_rate: float = 0.05
    kinds_val: np.ndarray | None = None
    X_fit_labelled: pd.DataFrame | None = None
    y_fit: np.ndarray | None = None

    @property
    def objective_name(self) -> str:
        return OBJECTIVE_METRIC if self.y_val is not None else LABEL_FREE_OBJECTIVE

    def subsample(self, share: float) -> TrialData:
        """The same held-out rows with a seeded ``share`` of the fit rows (per class where labelled)."""
        X_fit = self.X_fit.sample(frac=share, random_state=self.seed)
        if self.X_fit_labelled is None or self.y_fit is None:
            return replace(self, X_fit=X_fit)
        keep = np.concatenate([self.X_fit_labelled.index[self.y_fit == c].to_series().sample(
            frac=share, random_state=self.seed).to_numpy() for c in (False, True)])
        position = self.X_fit_labelled.index.get_indexer(np.sort(keep))
        return replace(self, X_fit=X_fit, X_fit_labelled=self.X_fit_labelled.iloc[position],
                       y_fit=self.y_fit[position])


@dataclass
class TrialResult:
    detector_name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    objective: float
    detector: BaseDetector | None = field(default=None, repr=False)
    val_scores: np.ndarray | None = field(default=None, repr=False)


def top_k_overlap(scores_a: np.ndarray, scores_b: np.ndarray, k: int) -> float:
    """Jaccard overlap of the k highest-scored rows under two scorings (1 = same alerts)."""
    k = min(k, len(scores_a))
    if k == 0:
        return math.nan
    top_a = set(np.argsort(-scores_a, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-scores_b, kind="stable")[:k].tolist())
    return len(top_a & top_b) / len(top_a | top_b)


def _build(detector_name: str, params: dict[str, Any], data: TrialData) -> BaseDetector:
    return make_detector(detector_name, threshold_percentile=data.threshold_percentile, **params)


def _fit(detector: BaseDetector, X_fit: pd.DataFrame, data: TrialData) -> BaseDetector:
    if not detector.supervised:
        return detector.fit(X_fit)
    if data.X_fit_labelled is None or data.y_fit is None:
        raise ValueError(f"{detector.name} learns from labels, but the fit days have too few labelled anomalies")
    return detector.fit(data.X_fit_labelled, data.y_fit)


def evaluate_trial(detector_name: str, params: dict[str, Any], data: TrialData) -> TrialResult:
    """Fit on the fit days, score the held-out rows, return the metrics and the objective.

    The threshold is then set to meet the alert budget on the held-out days (from their scores,
    never their labels), so the operating point a model is judged at is the one it serves at.
    Label-free detectors keep their fit-day percentile when it already flags less; a label-aware
    detector's fit-day percentile is not usable (its in-sample scores of the known anomalies are
    overconfident, so a cut among them flags almost no new anomaly), so it takes the budget cut.
    """
    detector = _build(detector_name, params, data)
    started = time.perf_counter()
    _fit(detector, data.X_fit, data)
    fit_seconds = time.perf_counter() - started
    eval_rows = data.X_val if len(data.X_val) else data.X_fit
    started = time.perf_counter()
    scores = detector.decision_function(eval_rows)
    score_seconds = time.perf_counter() - started
    if not np.all(np.isfinite(scores)):
        raise FloatingPointError(f"{detector_name} produced non-finite scores with {params}")
    budget_cut = budget_threshold(scores, data.budget_rate)
    detector.threshold_ = budget_cut if detector.supervised else max(detector.threshold_, budget_cut)
    metrics = validation_metrics(data.y_val, scores, detector.threshold_, data.alert_budget, data.budget_rate,
                                 data.kinds_val)
    metrics.update(fit_seconds=fit_seconds, score_seconds=score_seconds)
    if data.y_val is None:
        half = data.X_fit.sample(frac=0.5, random_state=data.seed)
        half_scores = _fit(_build(detector_name, params, data), half, data).decision_function(eval_rows)
        metrics[LABEL_FREE_OBJECTIVE] = top_k_overlap(scores, half_scores, data.alert_budget)
    objective = metrics[data.objective_name]
    return TrialResult(detector_name=detector_name, params=dict(params), metrics=metrics,
                       objective=float(objective), detector=detector, val_scores=scores)
