"""The figures at the alert budget over scored days (the demo summary's second table)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tasks.budget_summary import MODEL_ROW, budget_row, format_budget_rows, read_budget_rows
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic

DAYS = (date(2026, 2, 1), date(2026, 2, 2))


def _day(day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """100 users; the 2 card testers score highest, the 2 scrapers score like normal users."""
    users = [f"u{i:03d}" for i in range(100)]
    scores = np.linspace(0.0, 1.0, 100)[::-1].copy()  # u000 highest
    scores[[50, 51]] = scores[[2, 3]]
    scores[[2, 3]] = 0.0
    kinds = pd.array([None] * 100, dtype="string")
    kinds[[0, 1]] = "card_testing"
    kinds[[50, 51]] = "scraper"
    truth = np.zeros(100, dtype=bool)
    truth[[0, 1, 50, 51]] = True
    scored = pd.DataFrame({"user_id": users, "date": day, "anomaly_score": scores})
    # Labels cover only anomalous users and a few normal ones: a missing label row counts as normal.
    labels = pd.DataFrame({"user_id": users, "date": day, "is_anomaly": truth, "anomaly_type": kinds}).iloc[:60]
    return scored, labels


def test_budget_row_flags_each_days_top_share_and_reports_recall_per_kind():
    frames = [_day(d) for d in DAYS]
    scored = pd.concat([f[0] for f in frames], ignore_index=True)
    labels = pd.concat([f[1] for f in frames], ignore_index=True)
    row = budget_row("model", scored, labels, budget_rate=0.05)
    assert row.flagged == 10 and row.user_days == 200  # 5 per day, not 10 from the pooled ranking
    assert row.recall_by_kind == {"card_testing": 1.0, "scraper": 1.0}
    assert row.precision == 8 / 10 and row.recall == 1.0
    weak = budget_row("rules", scored.assign(anomaly_score=-scored["anomaly_score"]), labels, budget_rate=0.05)
    assert weak.recall_by_kind["card_testing"] == 0.0
    text = format_budget_rows([row, weak])
    assert "recall card_testing" in text and "80.0%" in text and "uses labels" in text


def test_read_budget_rows_reads_scored_days_and_skips_unlabelled(tmp_path):
    layout = DataLayout(tmp_path / "data")
    for day in DAYS:
        scored, labels = _day(day)
        write_partition_atomic(scored.drop(columns="date"), layout.scores(day))
        if day == DAYS[0]:
            write_partition_atomic(labels, layout.labels(day).parent, filename="labels.parquet")
    [row] = read_budget_rows(layout, list(DAYS), 0.05)
    assert row.scorer == MODEL_ROW and row.user_days == 100 and row.recall == 1.0
    assert read_budget_rows(layout, [date(2026, 3, 1)], 0.05) == []
    assert "no labelled scored days" in format_budget_rows([])
