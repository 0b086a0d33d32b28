"""The rules baseline the demo shows beside the model: scored from validated events, scored days only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic
from tasks.rules_baseline import rules_baseline_scores

DAYS = [date(2026, 2, 1), date(2026, 2, 2)]


def _events(day: date) -> pd.DataFrame:
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    rows = []
    for user in ("u1", "u2", "u3"):
        for i, kind in enumerate(["login", "view", "add_to_cart", "purchase"]):
            rows.append((f"{user}-{day}-{i}", start + timedelta(minutes=5 * i), user, kind, "item-1", 20.0, "DE", f"d-{user}"))
    for i in range(4):  # u9 tests stolen cards on the second day only
        if day == DAYS[1]:
            rows.append((f"u9-{i}", start + timedelta(minutes=i), "u9", "payment_failed", "item-2", 1.0, "DE", "d-u9"))
    return pd.DataFrame(rows, columns=["event_id", "ts", "user_id", "event_type", "item_id", "price", "country",
                                       "device_id"])


def test_rules_baseline_ranks_the_card_tester_first_and_covers_only_scored_days(tmp_path):
    layout = DataLayout(tmp_path / "data")
    for day in DAYS:
        write_partition_atomic(_events(day), layout.validated(day))
    layout.users.parent.mkdir(parents=True)
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u9"], "country": "DE"}).to_parquet(layout.users)

    scores = rules_baseline_scores(layout, history=DAYS, scored=[DAYS[1]])

    assert set(scores["date"]) == {DAYS[1]}
    assert set(scores["user_id"]) == {"u1", "u2", "u3", "u9"}
    ranked = scores.sort_values("anomaly_score", ascending=False)
    assert ranked.iloc[0]["user_id"] == "u9" and ranked.iloc[0]["anomaly_score"] >= 1  # 4 failed payments fire the rule
    assert (ranked.iloc[1:]["anomaly_score"] < 1).all()
