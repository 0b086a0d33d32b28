"""Read a day's raw labels with the checks every reader needs (training, outcomes, budget figures).

Labels arrive from outside the pipeline (a review team, a chargeback feed) and are never
validated with the events, so their reader checks them: readable, the columns it needs, and only
users the users table knows. A label for an unknown user is a wrong join key upstream (a typo, a
labels file from another shop): counting it as a missed or caught anomaly would skew recall and
training silently, so the day's labels are refused in one line, never changed.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.catalog import DatasetCorrupt
from tasks.errors import first_line
from tasks.layout import DataLayout

REQUIRED = ("user_id", "is_anomaly")
_EXAMPLES = 3


def known_users(layout: DataLayout) -> set[str] | None:
    """The users table's ids (None without a users table: validation stops such days already)."""
    if not layout.users.exists():
        return None
    try:
        return set(pq.read_table(layout.users, columns=["user_id"]).column("user_id").to_pylist())
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise DatasetCorrupt(f"users table {layout.users} is unreadable: {first_line(exc)}") from exc


def read_labels_table(layout: DataLayout, day: date, users: set[str] | None) -> pa.Table | None:
    """The checked labels of ``day`` (None when there are none); see the module doc."""
    path = layout.labels(day)
    if not path.exists():
        return None
    where = f"labels for {day.isoformat()} ({path})"
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetCorrupt(f"{where} are unreadable: {first_line(exc)}") from exc
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise DatasetCorrupt(f"{where} lack column(s) {', '.join(missing)}")
    if users is not None:
        unknown = sorted({str(u) for u in table.column("user_id").to_pylist()} - users)
        if unknown:
            examples = ", ".join(repr(u[:40]) for u in unknown[:_EXAMPLES])
            raise DatasetCorrupt(f"{where} name {len(unknown)} user(s) absent from the users table "
                                 f"(e.g. {examples}): correct the labels or the users table")
    return table


def read_day_labels(layout: DataLayout, day: date, columns: list[str] | None = None) -> pd.DataFrame | None:
    """The checked labels of ``day`` as a frame (only ``columns``, if given), or None."""
    table = read_labels_table(layout, day, known_users(layout))
    if table is None:
        return None
    frame = table.to_pandas()
    if columns is not None:
        for column in columns:  # optional columns (anomaly_type) may be absent
            if column not in frame:
                frame[column] = None
        frame = frame[columns]
    return frame
