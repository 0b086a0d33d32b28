"""The metric names every training, gate and review step reports (the README lists them).

The sweep and the gate judge models at an operating point: the alert budget, a share of the
held-out user-days (``max_alert_rate``) that on-call can review. ``val_recall_at_budget`` is the
share of labelled anomalies among the top ``budget`` share of rows by score, i.e. the recall when
the threshold is set to meet the budget exactly; ``val_precision_at_budget`` is the precision
there. At a fixed budget both rank models the same way. Unlike a cap on each model's default
alert rate, this never excludes a model because its fitted threshold flags more: every model is
compared flagging the same number of rows. Recall per anomaly kind at the same budget is logged as
``val_recall_at_budget__<kind>``.
"""

from __future__ import annotations

import math

import numpy as np

from models.metrics import evaluate_scores

OBJECTIVE_METRIC = "val_recall_at_budget"
LABEL_FREE_OBJECTIVE = "label_free_stability"
KIND_RECALL_PREFIX = "val_recall_at_budget__"
METRIC_NAMES = ("val_recall_at_budget", "val_precision_at_budget", "val_roc_auc", "val_average_precision", "val_f1",
                "val_precision_at_k", "val_recall_at_k", "alert_rate", "fit_seconds", "score_seconds")


def budget_rows(n_rows: int, budget_rate: float) -> int:
    """Rows flagged at the alert budget: the ``budget_rate`` share, at least one."""
    return max(1, math.floor(n_rows * budget_rate)) if n_rows else 0


def budget_threshold(scores: np.ndarray, budget_rate: float) -> float:
    """The lowest cut-off that flags at most the ``budget_rate`` share of ``scores`` (flag = score > cut)."""
    ranked = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    n = budget_rows(len(ranked), budget_rate)
    return float(ranked[n]) if n < len(ranked) else float(ranked[-1]) - 1.0


def budget_metrics(y_true: np.ndarray, scores: np.ndarray, budget_rate: float,
                   kinds: np.ndarray | None = None) -> dict[str, float]:
    """Precision and recall among the top ``budget_rate`` share of rows, overall and per anomaly kind."""
    y = np.asarray(y_true).astype(bool)
    top = np.zeros(len(y), dtype=bool)
    top[np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:budget_rows(len(y), budget_rate)]] = True
    hits = int((top & y).sum())
    out = {"val_precision_at_budget": hits / int(top.sum()) if top.any() else math.nan,
           "val_recall_at_budget": hits / int(y.sum()) if y.any() else math.nan}
    if kinds is not None:
        kind_values = np.asarray(kinds, dtype=object)
        for kind in sorted({k for k in kind_values[y] if isinstance(k, str)}):
            of_kind = y & (kind_values == kind)
            out[f"{KIND_RECALL_PREFIX}{kind}"] = int((top & of_kind).sum()) / int(of_kind.sum())
    return out


def validation_metrics(y_true: np.ndarray | None, scores: np.ndarray, threshold: float, k: int,
                       budget_rate: float, kinds: np.ndarray | None = None) -> dict[str, float]:
    """The ``val_*`` metrics plus ``alert_rate``; without labels only ``alert_rate`` is defined."""
    scores = np.asarray(scores, dtype=np.float64)
    alert_rate = float((scores > threshold).mean()) if len(scores) else float("nan")
    if y_true is None:
        return {"alert_rate": alert_rate}
    raw = evaluate_scores(np.asarray(y_true).astype(int), scores, threshold=threshold, k=k)
    out = {f"val_{key}": float(raw[key]) for key in ("roc_auc", "average_precision", "f1", "precision_at_k", "recall_at_k")}
    out.update(budget_metrics(np.asarray(y_true), scores, budget_rate, kinds))
    out["alert_rate"] = alert_rate
    return out


def kind_recalls(metrics: dict[str, float]) -> dict[str, float]:
    """The per-kind recalls at the budget in ``metrics``, keyed by kind."""
    return {name.removeprefix(KIND_RECALL_PREFIX): value for name, value in metrics.items()
            if name.startswith(KIND_RECALL_PREFIX)}
