"""One trial: fit a detector with given parameters on the window and measure it.

``evaluate_trial`` is a pure function of (detector name, parameters, data): no Optuna, MLflow or
global state, so a Dask (or any) executor can run it on another worker unchanged.

Objective:
- with labelled held-out days: ``val_average_precision`` (area under the precision-recall curve;
  it rewards ranking the rare anomalies first, which is what on-call's review queue consumes);
- without labels, the documented fallback ``label_free_stability``: the detector is refitted on a
  random half of the fit rows and the objective is the overlap (Jaccard) of the top-k alert sets
  that the full and the half model pick on the held-out rows. A detector whose alerts are
  structure in the data rather than noise of its fit picks the same users; constant or random
  scores do not. k is the daily alert budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.base import BaseDetector
from models.registry import make_detector
from tasks.training.metrics import LABEL_FREE_OBJECTIVE, OBJECTIVE_METRIC, validation_metrics

EpochHook = Callable[[int, float], None]


@dataclass(frozen=True)
class TrialData:
    """Everything a trial reads; plain frames and arrays so it pickles to a remote worker."""

    X_fit: pd.DataFrame
    X_val: pd.DataFrame
    y_val: np.ndarray | None
    threshold_percentile: float
    alert_budget: int
    seed: int

    @property
    def objective_name(self) -> str:
        return OBJECTIVE_METRIC if self.y_val is not None else LABEL_FREE_OBJECTIVE


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


def _attach_epoch_hook(detector: BaseDetector, on_epoch: EpochHook | None) -> None:
    """Iteratively trained detectors expose ``epoch_callback``; it drives Optuna's pruning."""
    if on_epoch is not None and "epoch_callback" in detector.get_params():
        detector.set_params(epoch_callback=on_epoch)


def evaluate_trial(detector_name: str, params: dict[str, Any], data: TrialData,
                   on_epoch: EpochHook | None = None) -> TrialResult:
    """Fit on ``data.X_fit``, score the held-out rows, return the metrics and the objective."""
    detector = _build(detector_name, params, data)
    _attach_epoch_hook(detector, on_epoch)
    started = time.perf_counter()
    detector.fit(data.X_fit)
    fit_seconds = time.perf_counter() - started
    eval_rows = data.X_val if len(data.X_val) else data.X_fit
    started = time.perf_counter()
    scores = detector.decision_function(eval_rows)
    score_seconds = time.perf_counter() - started
    if not np.all(np.isfinite(scores)):
        raise FloatingPointError(f"{detector_name} produced non-finite scores with {params}")
    metrics = validation_metrics(data.y_val, scores, detector.threshold_, data.alert_budget)
    metrics.update(fit_seconds=fit_seconds, score_seconds=score_seconds)
    if data.y_val is None:
        half = data.X_fit.sample(frac=0.5, random_state=data.seed)
        half_scores = _build(detector_name, params, data).fit(half).decision_function(eval_rows)
        metrics[LABEL_FREE_OBJECTIVE] = top_k_overlap(scores, half_scores, data.alert_budget)
    objective = metrics[data.objective_name]
    if "epoch_callback" in detector.get_params():
        detector.set_params(epoch_callback=None)  # the hook holds the Optuna trial: never keep it
    return TrialResult(detector_name=detector_name, params=dict(params), metrics=metrics,
                       objective=float(objective), detector=detector, val_scores=scores)
