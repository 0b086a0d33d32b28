"""Builders for validation tests: a clean day of raw events in the DESIGN.md schema, and its users.

(No tests here; the corpus and flow tests import these.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.layout import DataLayout

DAY = date(2026, 1, 8)

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("category", pa.string()), ("price", pa.float64()), ("quantity", pa.int32()),
    ("device_id", pa.string()), ("ip", pa.string()), ("country", pa.string()),
])
USER_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("signup_ts", pa.timestamp("us", tz="UTC")), ("birth_year", pa.int32()),
    ("gender", pa.string()), ("country", pa.string()), ("segment", pa.string()),
])
EVENT_TYPES = ["login", "view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase",
               "payment_failed", "review", "coupon_apply"]
PRICED = {"add_to_cart", "checkout", "purchase", "payment_failed"}


def clean_events(day: date = DAY, n: int = 200, prefix: str = "e") -> pd.DataFrame:
    """``n`` valid events spread over ``day`` (UTC), every event type present."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    types = [EVENT_TYPES[i % len(EVENT_TYPES)] for i in range(n)]
    priced = np.array([t in PRICED for t in types])
    return pd.DataFrame({
        "event_id": [f"{prefix}{day:%m%d}-{i:06d}" for i in range(n)],
        "ts": [start + timedelta(seconds=int(s)) for s in np.linspace(0, 86_399, n)],
        "user_id": [f"u{i % 20:03d}" for i in range(n)],
        "session_id": [f"s{i % 40:03d}" for i in range(n)],
        "event_type": types,
        "item_id": [f"item{i % 17}" if t != "login" else None for i, t in enumerate(types)],
        "category": [f"cat{i % 5}" if t != "login" else None for i, t in enumerate(types)],
        "price": np.where(priced, 9.99 + np.arange(n) % 7, np.nan),
        "quantity": pd.Series(1 + np.arange(n) % 3, dtype="Int32").where(priced, pd.NA),
        "device_id": [f"dev{i % 25}" for i in range(n)],
        "ip": [f"10.0.0.{i % 30}" for i in range(n)],
        "country": ["DE" if i % 3 else "FR" for i in range(n)],
    })


def clean_users(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{i:03d}" for i in range(n)],
        "signup_ts": [datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=i) for i in range(n)],
        "birth_year": pd.array([1970 + i if i % 4 else None for i in range(n)], dtype="Int32"),
        "gender": [None if i % 5 == 0 else "f" if i % 2 else "m" for i in range(n)],
        "country": ["DE" if i % 3 else "FR" for i in range(n)],
        "segment": ["regular"] * n,
    })


def to_table(frame: pd.DataFrame, schema: pa.Schema | None = EVENT_SCHEMA) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def write_events(layout: DataLayout, day: date, *frames_or_tables, schema: pa.Schema | None = EVENT_SCHEMA) -> Path:
    """Write one part file per frame under raw/events/date=D (replacing what was there)."""
    directory = layout.raw_events(day)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    for i, item in enumerate(frames_or_tables):
        table = item if isinstance(item, pa.Table) else to_table(item, schema)
        pq.write_table(table, directory / f"part-{i}.parquet")
    return directory


def write_users(layout: DataLayout, users: pd.DataFrame | None = None) -> Path:
    layout.users.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(clean_users() if users is None else users, USER_SCHEMA), layout.users)
    return layout.users


def write_history(layout: DataLayout, day: date, days: int, rows: int = 200) -> None:
    """Validated partitions for the ``days`` days before ``day`` (the volume band's history)."""
    for back in range(1, days + 1):
        previous = day - timedelta(days=back)
        directory = layout.validated(previous)
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_table(clean_events(previous, rows)), directory / "part-0.parquet")


def tree_digest(directory: Path) -> dict[str, bytes]:
    """Every file's bytes under ``directory`` (to prove inputs are never modified)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
