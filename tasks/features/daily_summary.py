"""Compact per-day summaries of validated events, cached so trailing windows never rescan raw events.

For each day X the summary holds, per user, the day's event and session counts, spend and first
purchase time (``user_day.parquet``), and per user the devices, IPs, countries and payment
instruments used with their event counts (``entities.parquet``). The payment instrument is the raw
events' optional ``payment_id`` column: days without it simply have no payment entities. It is a pure function of validated/date=X: the cache records a
fingerprint of those files (name, size, mtime) and is recomputed when they change, so reading the
cache is as point-in-time correct and as repeatable as rescanning the events themselves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tasks.features.engine import parquet_source, sql_date
from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, staged_directory

log = logging.getLogger(__name__)

SUMMARY_VERSION = 3  # 2: payment entities; 3: spend_sum summed exactly
_FINGERPRINT_KEY = b"shopguard.daily_summary"
USER_DAY_FILE = "user_day.parquet"
ENTITIES_FILE = "entities.parquet"


def summary_dir(layout: DataLayout, day: date) -> Path:
    """Where day's summary is cached (beside, not inside, features/ so readers of it never see it)."""
    return layout.feature_state(day)


@dataclass(frozen=True)
class DaySummary:
    day: date
    user_day: Path
    entities: Path


def source_fingerprint(files: list[Path]) -> str:
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return json.dumps({"version": SUMMARY_VERSION, "files": stats})


def user_day_query(source_sql: str, day: date) -> str:
    return f"""
        SELECT user_id, {sql_date(day)} AS date,
               count(*)::DOUBLE AS n_events,
               count(DISTINCT session_id)::DOUBLE AS n_sessions,
               -- an exact sum (DECIMAL adds as integers): a DOUBLE sum's last bit depends on how DuckDB's
               -- threads split a user's rows, so a 30M-event day differed between runs and shard counts
               coalesce(sum((price * coalesce(quantity, 1))::DECIMAL(38, 6)) FILTER (WHERE event_type = 'purchase'),
                        0)::DOUBLE AS spend_sum,
               min(ts::TIMESTAMPTZ) FILTER (WHERE event_type = 'purchase') AS first_purchase_ts
        FROM {source_sql}
        GROUP BY user_id
        ORDER BY user_id"""


def entities_query(source_sql: str, day: date, has_payment_id: bool) -> str:
    # One scan for all kinds: grouping sets instead of one GROUP BY per kind.
    payment = "payment_id" if has_payment_id else "NULL::VARCHAR AS payment_id"
    return f"""
        SELECT user_id, {sql_date(day)} AS date,
               CASE WHEN GROUPING(device_id) = 0 THEN 'device' WHEN GROUPING(ip) = 0 THEN 'ip'
                    WHEN GROUPING(payment_id) = 0 THEN 'payment' ELSE 'country' END AS kind,
               CASE WHEN GROUPING(device_id) = 0 THEN device_id WHEN GROUPING(ip) = 0 THEN ip
                    WHEN GROUPING(payment_id) = 0 THEN payment_id ELSE country END AS value,
               count(*)::DOUBLE AS n_events
        FROM (SELECT user_id, device_id, ip, country, {payment} FROM {source_sql})
        GROUP BY GROUPING SETS ((user_id, device_id), (user_id, ip), (user_id, country), (user_id, payment_id))
        -- events without a payment instrument (views, searches...) are no payment entity
        HAVING GROUPING(payment_id) = 1 OR payment_id IS NOT NULL
        ORDER BY kind, user_id, value"""


def has_payment_column(files: list[Path]) -> bool:
    return any("payment_id" in pq.read_schema(f).names for f in files)


def _is_fresh(directory: Path, fingerprint: str) -> bool:
    user_day = directory / USER_DAY_FILE
    if not (user_day.exists() and (directory / ENTITIES_FILE).exists()):
        return False
    metadata = pq.read_schema(user_day).metadata or {}
    return metadata.get(_FINGERPRINT_KEY, b"").decode() == fingerprint


def _write_summary(con: duckdb.DuckDBPyConnection, files: list[Path], day: date, directory: Path,
                   fingerprint: str) -> None:
    has_payment_id = has_payment_column(files)
    # By name, so part files with and without the optional column read as one table (nulls filled).
    source = parquet_source(files, union_by_name=has_payment_id)
    with staged_directory(directory) as tmp:
        for name, query in ((USER_DAY_FILE, user_day_query(source, day)),
                            (ENTITIES_FILE, entities_query(source, day, has_payment_id))):
            table = con.sql(query).to_arrow_table()
            table = table.replace_schema_metadata({_FINGERPRINT_KEY: fingerprint.encode()})
            pq.write_table(table, tmp / name, compression="zstd")


def ensure_day_summary(con: duckdb.DuckDBPyConnection, layout: DataLayout, day: date) -> DaySummary | None:
    """The day's summary, computed and cached if missing or stale; None when the day has no validated data."""
    files = parquet_files(layout.validated(day))
    directory = summary_dir(layout, day)
    if not files:
        return None
    fingerprint = source_fingerprint(files)
    if not _is_fresh(directory, fingerprint):
        log.debug("summarising validated events of %s", day)
        _write_summary(con, files, day, directory, fingerprint)
    return DaySummary(day, directory / USER_DAY_FILE, directory / ENTITIES_FILE)
