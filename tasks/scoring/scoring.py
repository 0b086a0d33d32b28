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
ALERT_COLUMNS = ("rank", *KEY_COLUMNS, "anomaly_score", "kind_guess", "top_features", "reasons", "model_version")


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


def rank_alerts(scores: pd.DataFrame) -> pd.DataFrame:
    """Flagged user-days, most anomalous first, with a rank and a guess of the anomaly kind."""
    flagged = scores[scores["is_anomaly"]].sort_values(["anomaly_score", "user_id"], ascending=[False, True])
    alerts = flagged.reset_index(drop=True).copy()
    alerts["rank"] = np.arange(1, len(alerts) + 1, dtype="int64")
    alerts["kind_guess"] = [guess_kind(t) for t in alerts["top_features"]]
    return alerts[list(ALERT_COLUMNS)]


def alerts_html(alerts: pd.DataFrame, day: str, model_version: str) -> str:
    """A small standalone page of the day's alerts for on-call (linked from reports/index.html)."""
    from html import escape

    rows = "\n".join(
        f"<tr><td>{r.rank}</td><td>{escape(str(r.user_id))}</td><td>{r.anomaly_score:.3f}</td>"
        f"<td>{escape(r.kind_guess.replace('_', ' '))}</td><td>{escape(r.reasons)}</td></tr>"
        for r in alerts.itertuples(index=False)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shopguard alerts {day}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}}</style></head>
<body><h1>Alerts for {day}</h1>
<p>{len(alerts)} flagged users, most anomalous first. Scored by model version {escape(model_version)}.
The kind is a guess from the top features; each reason compares the user's value with the usual value among users in training.</p>
<table><thead><tr><th>#</th><th>user</th><th>score</th><th>likely kind</th><th>why</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""
