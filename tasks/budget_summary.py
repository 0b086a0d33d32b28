"""Precision and recall per anomaly kind at the alert budget, over scored days (the demo's summary).

Each day the top ``budget_rate`` share of its scored users is flagged (the operating point the
sweep selects at), and the flags of all days are pooled against the labels. These figures use
labels and describe days after training (the served champion's own output), never fit days.

Any other scorer of the same user-days (e.g. a rules baseline) can be put beside the model:
pass its per-day ``user_id``/``anomaly_score`` frames as a baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel

from tasks.labels import read_day_labels
from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, read_partition
from tasks.training.metrics import budget_rows

MODEL_ROW = "model (champion of the day)"


class BudgetRow(BaseModel):
    """One scorer's standing at the alert budget over the scored days (uses labels)."""

    scorer: str
    budget_rate: float
    user_days: int
    flagged: int
    precision: float | None
    recall: float | None
    recall_by_kind: dict[str, float]


def budget_row(scorer: str, scored: pd.DataFrame, labels: pd.DataFrame, budget_rate: float) -> BudgetRow:
    """``scored`` (user_id, date, anomaly_score) against ``labels`` (user_id, date, is_anomaly, anomaly_type)."""
    keyed = labels[["user_id", "date", "is_anomaly", "anomaly_type"]].drop_duplicates(["user_id", "date"])
    merged = scored[["user_id", "date", "anomaly_score"]].merge(keyed, on=["user_id", "date"], how="left")
    merged["truth"] = merged["is_anomaly"].fillna(False).astype(bool)  # no label row: normal
    merged["flagged"] = False
    for _, day_rows in merged.groupby("date"):
        top = day_rows["anomaly_score"].sort_values(ascending=False, kind="stable").index[
            :budget_rows(len(day_rows), budget_rate)]
        merged.loc[top, "flagged"] = True
    hits = merged["flagged"] & merged["truth"]
    by_kind = {str(kind): float(rows["flagged"].mean())
               for kind, rows in merged[merged["truth"]].groupby(merged["anomaly_type"].astype("string"))}
    return BudgetRow(scorer=scorer, budget_rate=budget_rate, user_days=len(merged), flagged=int(merged["flagged"].sum()),
                     precision=float(hits.sum() / merged["flagged"].sum()) if merged["flagged"].any() else None,
                     recall=float(hits.sum() / merged["truth"].sum()) if merged["truth"].any() else None,
                     recall_by_kind=dict(sorted(by_kind.items())))


def _read_days(layout: DataLayout, days: list[date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    scored, labels = [], []
    for day in days:
        if not parquet_files(layout.scores(day)) or not layout.labels(day).exists():
            continue
        scored.append(read_partition(layout.scores(day), columns=["user_id", "anomaly_score"]).assign(date=day))
        day_labels = read_day_labels(layout, day, columns=["user_id", "is_anomaly", "anomaly_type"])
        labels.append(day_labels.assign(date=day))
    empty = pd.DataFrame(columns=["user_id", "date", "anomaly_score", "is_anomaly", "anomaly_type"])
    return (pd.concat(scored, ignore_index=True) if scored else empty,
            pd.concat(labels, ignore_index=True) if labels else empty)


def read_budget_rows(layout: DataLayout, days: list[date], budget_rate: float,
                     baselines: Mapping[str, pd.DataFrame] | None = None) -> list[BudgetRow]:
    """The model's row (from the scored days on disk) and one per baseline; empty without labelled scored days."""
    scored, labels = _read_days(layout, days)
    if scored.empty:
        return []
    rows = [budget_row(MODEL_ROW, scored, labels, budget_rate)]
    rows += [budget_row(name, frame, labels, budget_rate) for name, frame in (baselines or {}).items()]
    return rows


def format_budget_rows(rows: list[BudgetRow]) -> str:
    """A plain-text table: one line per scorer, recall per kind as columns."""
    if not rows:
        return "no labelled scored days: no figures at the alert budget"
    kinds = sorted({kind for row in rows for kind in row.recall_by_kind})

    def pct(value: float | None) -> str:
        return "-" if value is None or not np.isfinite(value) else f"{100 * value:.1f}%"

    header = ["scorer", "precision", "recall", *(f"recall {kind}" for kind in kinds)]
    table = [[row.scorer, pct(row.precision), pct(row.recall), *(pct(row.recall_by_kind.get(k)) for k in kinds)]
             for row in rows]
    widths = [max(len(str(line[i])) for line in [header, *table]) for i in range(len(header))]
    render = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
              for line in [header, *table]]
    title = (f"at the alert budget ({100 * rows[0].budget_rate:g}% of each day's users flagged; "
             f"{rows[0].user_days} scored user-days; uses labels):")
    return "\n".join([title, render[0], "-" * len(render[0]), *render[1:]])
