"""Score a day's feature table with the champion and rank the flagged users (pure helpers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import ShopguardError, first_line
from tasks.registry.inputs import signature_inputs
from tasks.scoring.kinds import guess_kind

MODEL_OUTPUT_COLUMNS = ("anomaly_score", "is_anomaly", "top_features", "reasons")
KEY_COLUMNS = ("user_id", "date")
SCORE_COLUMNS = (*KEY_COLUMNS, *MODEL_OUTPUT_COLUMNS, "model_version")
ALERT_COLUMNS = ("rank", *KEY_COLUMNS, "anomaly_score", "severity", "score_percentile", "kind_guess", "top_features",
                 "reasons", "model_version")


class ModelOutputError(ShopguardError):
    """The served model broke its output contract (docs/architecture.md, 'Served model')."""


def score_features(model: Any, features: pd.DataFrame, model_version: str) -> pd.DataFrame:
    """One row per user-day (same order as ``features``) with the model's outputs and version."""
    try:
        output = model.predict(signature_inputs(model, features))
    except Exception as exc:  # schema enforcement or the detector itself: name it in one line
        raise ModelOutputError(f"model version {model_version} could not score the features: {first_line(exc)}") from exc
    if not isinstance(output, pd.DataFrame):
        raise ModelOutputError(f"model version {model_version} returned {type(output).__name__}, not a DataFrame")
    missing = [c for c in MODEL_OUTPUT_COLUMNS if c not in output.columns]
    if missing:
        raise ModelOutputError(f"model version {model_version} output lacks columns {missing}")
    if len(output) != len(features):
        raise ModelOutputError(f"model version {model_version} returned {len(output)} rows for {len(features)} inputs")
    scores = features[list(KEY_COLUMNS)].reset_index(drop=True).copy()
    out = output.reset_index(drop=True)
    scores["anomaly_score"] = out["anomaly_score"].astype("float64")
    scores["is_anomaly"] = out["is_anomaly"].astype(bool)
    scores["top_features"] = out["top_features"].fillna("").astype(str)
    scores["reasons"] = out["reasons"].fillna("").astype(str)
    scores["model_version"] = str(model_version)
    if not np.isfinite(scores["anomaly_score"]).all():
        raise ModelOutputError(f"model version {model_version} produced non-finite scores")
    return scores


def served_threshold(model: Any) -> float | None:
    """The served detector's fitted threshold (None for a model that is not shopguard's pyfunc)."""
    detector = getattr(model.unwrap_python_model(), "detector", None)
    threshold = getattr(detector, "threshold_", None)
    return None if threshold is None else float(threshold)


def rank_alerts(scores: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
    """Flagged user-days, most anomalous first, with a rank, a normalised severity and a kind guess.

    ``severity`` is score / threshold (above 1 is flagged; None without a positive threshold) and
    ``score_percentile`` the share of the day's user-days scoring lower, both comparable across
    models whose raw scores are not.
    """
    percentile = (scores["anomaly_score"].rank(method="min") - 1) / max(len(scores), 1)
    flagged = scores.assign(score_percentile=percentile)[scores["is_anomaly"]]
    flagged = flagged.sort_values(["anomaly_score", "user_id"], ascending=[False, True])
    alerts = flagged.reset_index(drop=True).copy()
    alerts["rank"] = np.arange(1, len(alerts) + 1, dtype="int64")
    positive = threshold is not None and threshold > 0
    alerts["severity"] = alerts["anomaly_score"] / threshold if positive else np.nan
    alerts["kind_guess"] = [guess_kind(t) for t in alerts["top_features"]]
    return alerts[list(ALERT_COLUMNS)]
