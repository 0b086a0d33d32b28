"""Poison rows are quarantined at validation, so the day's features still pass the feature suite.

Before raw suite 1.1.0 each of these rows passed validation and then stopped the whole day at the
feature suite (an infinite spend, an overflowing price x quantity, a NUL byte in a user id).
"""

from __future__ import annotations

from test_validation_data import DAY, clean_events, tree_digest, write_events, write_users

from tasks.features.flow_tasks import build_features_task, check_features_task
from tasks.layout import DataLayout
from tasks.settings import ValidationSettings
from tasks.validation.day import validate_day


def test_poison_rows_go_to_quarantine_and_the_features_pass(tmp_path):
    layout = DataLayout(tmp_path / "data")
    write_users(layout)
    events = clean_events(n=400)
    purchases = events.index[events["event_type"] == "purchase"]
    events.loc[purchases[0], "price"] = float("inf")
    events.loc[purchases[1], ["price", "quantity"]] = [1e308, 2**31 - 1]
    events.loc[purchases[2], "user_id"] = "u001\x00"
    events.loc[5, "device_id"] = "d" * 50_000
    write_events(layout, DAY, events)
    raw_before = tree_digest(layout.raw)

    summary = validate_day(layout, DAY, ValidationSettings())

    assert not summary.stopped, summary.reason
    assert summary.rows_quarantined == 4 and summary.rows_validated == 396, summary.quarantine_reasons
    assert tree_digest(layout.raw) == raw_before
    features = build_features_task.fn(layout, DAY, 1)
    check_features_task.fn(layout, DAY, features)  # raises ValidationStopped on a poisoned table
    assert features["user_id"].str.fullmatch(r"u\d{3}").all()
    assert set(p.name for p in tmp_path.iterdir()) == {"data"}  # nothing written beside the data root
