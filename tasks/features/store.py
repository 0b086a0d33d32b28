"""Build, write and read the user-day feature table (features/date=D/part-0.parquet).

Day D's features read only validated/date=D, the cached daily summaries of D-w+1..D (each a pure
function of its own validated partition, see daily_summary.py) and the users table. So adding
D+1 changes nothing in D, and rebuilding D gives the same table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from tasks.errors import DataMissingError, ShopguardError, first_line
from tasks.features import context, pattern, profile, sequence
from tasks.features.catalogue import (
    FEATURE_SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    all_columns,
    feature_schema,
)
from tasks.features.daily_summary import DaySummary, ensure_day_summary
from tasks.features.engine import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_THREADS,
    connect,
    create_input_views,
    parquet_source,
    sql_date,
)
from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, write_partition_atomic
from tasks.shards import shard_predicate

log = logging.getLogger(__name__)

FEATURE_FILE = "part-0.parquet"


class FeatureSchemaMismatch(ShopguardError):
    """A stored feature partition was written with another schema version."""


def window_days_for(day: date, window_days: int) -> list[date]:
    """The trailing window D-w+1..D, oldest first."""
    if window_days < 1:
        raise ShopguardError(f"window_days must be at least 1, got {window_days}")
    return [day - timedelta(days=offset) for offset in range(window_days - 1, -1, -1)]


def _summaries(con, layout: DataLayout, days: Sequence[date]) -> list[DaySummary]:
    summaries = []
    # disable=None: no bar unless stderr is a terminal
    for window_day in tqdm(days, desc="daily summaries", unit="day", leave=False,
                           disable=True if len(days) < 8 else None):
        summary = ensure_day_summary(con, layout, window_day)
        if summary is not None:
            summaries.append(summary)
    return summaries


@dataclass(frozen=True)
class DayInputs:
    """The files one day's feature build reads (summaries already cached); plain paths, so it pickles."""

    day: date
    event_files: tuple[Path, ...]
    users_file: Path
    user_day_files: tuple[Path, ...]
    entity_files: tuple[Path, ...]

    def views(self, con, where: str = "TRUE") -> None:
        create_input_views(con, self.event_files, self.users_file, self.user_day_files, self.entity_files, where)


def prepare_day_inputs(layout: DataLayout, day: date, window_days: int, threads: int = DEFAULT_THREADS,
                       memory_limit: str = DEFAULT_MEMORY_LIMIT) -> DayInputs:
    """Check the day's inputs and cache the window's missing or stale daily summaries."""
    event_files = parquet_files(layout.validated(day))
    if not event_files:
        raise DataMissingError(f"no validated events for {day}: run `shopguard validate --date {day}` first")
    if not layout.users.exists():
        raise DataMissingError(f"users table not found: {layout.users}")
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        summaries = _summaries(con, layout, window_days_for(day, window_days))
    finally:
        con.close()
    log.debug("inputs of %s: %d event files, %d-day window (%d days with data)",
              day, len(event_files), window_days, len(summaries))
    return DayInputs(day, tuple(event_files), layout.users, tuple(s.user_day for s in summaries),
                     tuple(s.entities for s in summaries))


def _feature_rows(con, day: date) -> pd.DataFrame:
    """The feature table of the users in the connection's views (cross-user relations already there)."""
    groups = {"sequence": sequence.query(), "profile": profile.query(day),
              "pattern": pattern.query(day), "context": context.query(day)}
    for name, group_query in groups.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE group_{name} AS {group_query}")
    columns = ", ".join(f'"{spec.name}"' for spec in all_columns() if spec.name not in ("user_id", "date"))
    return con.execute(f"""
        SELECT user_id, {sql_date(day)} AS date, {columns}
        FROM group_sequence JOIN group_profile USING (user_id)
        JOIN group_pattern USING (user_id) JOIN group_context USING (user_id)
        ORDER BY user_id""").df()


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    table["date"] = pd.to_datetime(table["date"]).dt.date
    return table


def build_day_features(layout: DataLayout, day: date, window_days: int,
                       threads: int = DEFAULT_THREADS, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> pd.DataFrame:
    """The day's feature table, one row per user with a validated event on ``day``, sorted by user_id.

    Reads inputs only, except that missing or stale daily summaries of the window are cached under
    features_state/ on the way (a pure function of their validated partitions).
    """
    inputs = prepare_day_inputs(layout, day, window_days, threads, memory_limit)
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        inputs.views(con)
        for name, relation_query in context.GLOBAL_RELATIONS.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {relation_query(day)}")
        table = _feature_rows(con, day)
    finally:
        con.close()
    log.debug("built %d feature rows for %s", len(table), day)
    return _finish(table)


# --- the sharded build: cross-user relations once, then one task per user shard ---------------

def write_day_globals(inputs: DayInputs, directory: Path, threads: int = DEFAULT_THREADS,
                      memory_limit: str = DEFAULT_MEMORY_LIMIT) -> dict[str, Path]:
    """Compute the cross-user relations over all users once, as Parquet files the shards read."""
    directory.mkdir(parents=True, exist_ok=True)
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        inputs.views(con)
        paths = {}
        for name, relation_query in context.GLOBAL_RELATIONS.items():
            paths[name] = directory / f"{name}.parquet"
            pq.write_table(con.sql(relation_query(inputs.day)).to_arrow_table(), paths[name])
    finally:
        con.close()
    return paths


def build_shard_features(inputs: DayInputs, global_files: dict[str, Path], shard: int, n_shards: int,
                         threads: int = 1, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> pd.DataFrame:
    """The feature rows of one user shard (see tasks.shards); cross-user relations from ``global_files``."""
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        inputs.views(con, where=shard_predicate(shard, n_shards))
        for name, path in global_files.items():
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {parquet_source([path])}")
        return _feature_rows(con, inputs.day)
    finally:
        con.close()


def merge_shard_features(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The shards' rows as one table sorted by user_id, exactly as the in-process build returns it."""
    non_empty = [p for p in parts if len(p)] or list(parts[:1])
    table = pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame()
    table = table.sort_values("user_id", kind="stable").reset_index(drop=True)
    return _finish(table)


def to_feature_table(df: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table with the explicit feature schema (a clear error if it does not fit)."""
    schema = feature_schema()
    missing = [name for name in schema.names if name not in df.columns]
    if missing:
        raise ShopguardError(f"feature table lacks columns: {', '.join(missing)}")
    try:
        return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise ShopguardError(f"feature table does not fit the schema: {first_line(exc)}") from exc


def write_day_features(layout: DataLayout, day: date, df: pd.DataFrame) -> Path:
    """Replace features/date=D atomically with ``df`` (explicit schema, schema version in the metadata)."""
    table = to_feature_table(df)
    if len(table) and set(table.column("date").to_pylist()) != {day}:
        raise ShopguardError(f"feature rows for {day} carry other dates")
    return write_partition_atomic(table, layout.features(day), filename=FEATURE_FILE)


def stored_schema_version(path: Path) -> str | None:
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(SCHEMA_VERSION_KEY)
    return value.decode() if value is not None else None


def load_feature_days(layout: DataLayout, days: Iterable[date], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read the feature partitions of ``days`` (only those columns when given), in day order.

    Raises DataMissingError naming the days without features, and FeatureSchemaMismatch when a
    partition was written by another schema version.
    """
    days = sorted(set(days))
    missing = [d.isoformat() for d in days if not (layout.features(d) / FEATURE_FILE).exists()]
    if missing:
        raise DataMissingError(f"no features for {', '.join(missing)}: run `shopguard features --date {missing[0]}`")
    for d in days:
        version = stored_schema_version(layout.features(d) / FEATURE_FILE)
        if version != FEATURE_SCHEMA_VERSION:
            raise FeatureSchemaMismatch(
                f"features for {d} have schema version {version}, expected {FEATURE_SCHEMA_VERSION}: rebuild them")
    if columns is not None:
        columns = list(dict.fromkeys(["user_id", "date", *columns]))
    # Read file by file: a dataset over date=D/ folders would add a clashing hive "date" column.
    tables = [pq.read_table(layout.features(d) / FEATURE_FILE, columns=columns) for d in days]
    empty = feature_schema().empty_table()
    df = (pa.concat_tables(tables) if tables else empty.select(columns or empty.column_names)).to_pandas()
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df.sort_values(["date", "user_id"], kind="stable").reset_index(drop=True)
