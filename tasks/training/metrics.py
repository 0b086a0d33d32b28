"""The metric names every training, gate and review step reports (the README lists them)."""

from __future__ import annotations

import numpy as np

from models.metrics import evaluate_scores

OBJECTIVE_METRIC = "val_average_precision"
LABEL_FREE_OBJECTIVE = "label_free_stability"
METRIC_NAMES = ("val_roc_auc", "val_average_precision", "val_f1", "val_precision_at_k", "val_recall_at_k",
                "alert_rate", "fit_seconds", "score_seconds")


def validation_metrics(y_true: np.ndarray | None, scores: np.ndarray, threshold: float, k: int) -> dict[str, float]:
    """The ``val_*`` metrics plus ``alert_rate``; without labels only ``alert_rate`` is defined."""
    scores = np.asarray(scores, dtype=np.float64)
    alert_rate = float((scores > threshold).mean()) if len(scores) else float("nan")
    if y_true is None:
        return {"alert_rate": alert_rate}
    raw = evaluate_scores(np.asarray(y_true).astype(int), scores, threshold=threshold, k=k)
    out = {f"val_{key}": float(raw[key]) for key in ("roc_auc", "average_precision", "f1", "precision_at_k", "recall_at_k")}
    out["alert_rate"] = alert_rate
    return out
