"""Detection metrics for scores where higher = more anomalous.

Threshold metrics (precision, recall, F1, alert rate) flag rows with score > threshold, as
``predict`` does. The alert-budget metrics take the k highest-scoring rows (ties broken by row
order): precision@k = anomalies among them / k, recall@k = anomalies among them / all anomalies.
Metrics that need both classes are NaN when y_true has only one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

METRIC_KEYS = ("roc_auc", "average_precision", "precision", "recall", "f1",
               "precision_at_k", "recall_at_k", "alert_rate")


def flag_metrics(y_true: Any, flagged: Any) -> tuple[float, float, float]:
    """(precision, recall, F1) of boolean flags; NaN where a ratio's denominator is zero."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        np.asarray(y_true).astype(bool), np.asarray(flagged).astype(bool), average="binary", zero_division=np.nan)
    return float(precision), float(recall), float(f1)


def evaluate_scores(y_true: Any, scores: Any, threshold: float, k: int) -> dict[str, float]:
    """All detection metrics of ``scores`` against binary labels ``y_true`` (1 = anomaly)."""
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_pos = int(y.sum())
    both = 0 < n_pos < len(y)
    flagged = s > threshold
    n_flagged = int(flagged.sum())
    precision, recall, f1 = flag_metrics(y, flagged)
    # nothing flagged scores 0 rather than NaN here: a sweep must rank such a trial last, not drop it
    precision = 0.0 if not n_flagged else precision
    f1 = 0.0 if np.isnan(f1) else f1
    top = np.argsort(-s, kind="stable")[: min(k, len(s))]
    hits = int(y[top].sum())
    return {
        "roc_auc": float(roc_auc_score(y, s)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, s)) if both else float("nan"),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "precision_at_k": hits / len(top) if len(top) else float("nan"),
        "recall_at_k": hits / n_pos if n_pos else float("nan"),
        "alert_rate": n_flagged / len(s) if len(s) else float("nan"),
    }
