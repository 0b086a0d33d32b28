"""Hostile label files: labels for users the users table does not know, a labels file without its
columns, a zero-byte one. Each is refused in one line naming the day and the file; raw bytes
stay as they were; nothing is trained or scored against them."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_training_units import END, write_feature_window

from tasks.catalog import DatasetCorrupt
from tasks.features.catalogue import model_feature_names
from tasks.labels import read_day_labels
from tasks.layout import DataLayout
from tasks.training.window import load_window, plan_window

USERS = 120
DAY = END - timedelta(days=3)  # a fit day of the window


@pytest.fixture
def layout(settings) -> DataLayout:
    write_feature_window(settings, users=USERS)
    layout = DataLayout(settings.data_dir)
    layout.users.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"user_id": [f"u{i:05d}" for i in range(USERS)]}), layout.users)
    return layout


def load(layout: DataLayout):
    return load_window(layout, plan_window(END, 7, 2), model_feature_names())


def digest(layout: DataLayout) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(layout.raw.rglob("*.parquet")))).hexdigest()


def refused(layout: DataLayout, match: str) -> None:
    before = digest(layout)
    for read in (lambda: load(layout), lambda: read_day_labels(layout, DAY)):
        with pytest.raises(DatasetCorrupt) as info:
            read()
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"labels for {DAY.isoformat()} ("), message
        assert str(layout.labels(DAY)) in message and match in message, message
    assert digest(layout) == before


def test_labels_of_known_users_train(layout):
    data = load(layout)
    assert data.has_labels and data.dropped_known_anomalies > 0


def test_labels_for_users_absent_from_the_users_table_are_refused_in_one_line(layout):
    labels = pd.read_parquet(layout.labels(DAY))
    ghosts = labels.head(2).assign(user_id=["ghost-1", "ghost\n2"], is_anomaly=True)
    pd.concat([labels, ghosts]).to_parquet(layout.labels(DAY), index=False)
    refused(layout, "name 2 user(s) absent from the users table (e.g. 'ghost\\n2', 'ghost-1')")


def test_a_labels_file_without_its_columns_or_bytes_is_refused_in_one_line(layout):
    pd.read_parquet(layout.labels(DAY)).drop(columns=["is_anomaly"]).to_parquet(layout.labels(DAY), index=False)
    refused(layout, "lack column(s) is_anomaly")
    layout.labels(DAY).write_bytes(b"")
    refused(layout, "are unreadable")
