"""How each scored day turned out against the labels — the demo's summary and the daily report.

Pure over DataFrames and the typed day record, plus one reader at the edge.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
from pydantic import BaseModel

from models.metrics import flag_metrics
from tasks.labels import read_day_labels
from tasks.layout import DataLayout
from tasks.monitoring.oncall_page import day_status
from tasks.parquet_io import parquet_files, read_partition
from tasks.run_status import DayRecord, read_day_record


class DayOutcome(BaseModel):
    day: date
    status: str
    events: int | None
    users_scored: int | None
    users_flagged: int | None
    precision: float | None
    recall: float | None
    drift_share: float | None
    retrain: str

    def as_row(self) -> dict:
        return self.model_dump()


def precision_recall(flagged: pd.Series, truth: pd.Series) -> tuple[float | None, float | None]:
    """Precision and recall of boolean flags against boolean truth (None where undefined)."""
    precision, recall, _ = flag_metrics(truth, flagged)
    return (None if math.isnan(precision) else precision), (None if math.isnan(recall) else recall)


def score_vs_labels(scores: pd.DataFrame, labels: pd.DataFrame) -> tuple[float | None, float | None]:
    """Join a day's scores to its labels (users without a label row count as normal)."""
    merged = scores[["user_id", "is_anomaly"]].merge(
        labels[["user_id", "is_anomaly"]].rename(columns={"is_anomaly": "truth"}), on="user_id", how="left")
    return precision_recall(merged["is_anomaly"], merged["truth"].fillna(False).astype(bool))


def retrain_words(record: DayRecord) -> str:
    retrain = record.retrain
    if retrain is None or not retrain.triggered:
        return "-"
    if retrain.error:
        return "yes (failed)"
    return f"yes ({retrain.promotion_decision or '?'})"


def day_outcome(layout: DataLayout, day: date) -> DayOutcome:
    record = read_day_record(layout, day)
    precision = recall = None
    users_scored = users_flagged = None
    if parquet_files(layout.scores(day)):
        scores = read_partition(layout.scores(day), columns=["user_id", "is_anomaly"])
        users_scored, users_flagged = len(scores), int(scores["is_anomaly"].sum())
        labels = read_day_labels(layout, day, columns=["user_id", "is_anomaly"])
        if labels is not None:
            precision, recall = score_vs_labels(scores, labels)
    return DayOutcome(
        day=day,
        status=str(day_status(record)),
        events=record.validation.rows_in if record.validation else None,
        users_scored=users_scored,
        users_flagged=users_flagged,
        precision=precision,
        recall=recall,
        drift_share=record.drift.drift_share if record.drift else None,
        retrain=retrain_words(record),
    )


def format_outcomes(outcomes: list[DayOutcome]) -> str:
    """A plain-text table for the terminal."""
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:5.1f}%"

    header = f"{'day':<10}  {'status':<18} {'events':>8} {'users':>6} {'flagged':>7} {'precision':>9} {'recall':>7} {'drift':>6}  retrain"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        lines.append(
            f"{o.day.isoformat():<10}  {o.status:<18} {o.events if o.events is not None else '-':>8} "
            f"{o.users_scored if o.users_scored is not None else '-':>6} "
            f"{o.users_flagged if o.users_flagged is not None else '-':>7} {pct(o.precision):>9} {pct(o.recall):>7} "
            f"{pct(o.drift_share):>6}  {o.retrain}")
    return "\n".join(lines)
