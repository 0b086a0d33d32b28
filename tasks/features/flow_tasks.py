"""Thin Prefect task wrappers around the feature store (the work itself lives in store.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from prefect import task, unmapped
from prefect.cache_policies import NO_CACHE

from tasks.errors import DataMissingError
from tasks.features.catalogue import FEATURE_SCHEMA_VERSION
from tasks.features.engine import connect, parquet_source
from tasks.features.store import (
    DayInputs,
    build_day_features,
    build_shard_features,
    merge_shard_features,
    prepare_day_inputs,
    write_day_features,
    write_day_globals,
)
from tasks.layout import DataLayout
from tasks.locks import shared_lock
from tasks.parquet_io import parquet_files
from tasks.run_status import update_day_status
from tasks.shards import check_shards
from tasks.validation import validate_feature_table
from tasks.validation.outputs import check_split_complete


@dataclass(frozen=True)
class FeaturesResult:
    day: date
    path: Path
    rows: int
    window_days: int
    schema_version: str = FEATURE_SCHEMA_VERSION


# Feature tables are large inputs: hashing them for a cache key would cost more than rebuilding.
@task(name="build-day-features", cache_policy=NO_CACHE)
def build_features_task(layout: DataLayout, day: date, window_days: int) -> pd.DataFrame:
    if layout.validated(day).exists():  # a missing day is reported by the build itself
        check_split_complete(layout.validated(day), layout.quarantine(day))
    with shared_lock(layout, "features-state"):  # the summaries cache is shared by every day's window
        return build_day_features(layout, day, window_days)


@task(name="build-feature-shard", cache_policy=NO_CACHE)
def build_shard_task(inputs: DayInputs, global_files: dict[str, Path], shard: int, n_shards: int) -> pd.DataFrame:
    return build_shard_features(inputs, global_files, shard, n_shards)


def build_features_sharded(layout: DataLayout, day: date, window_days: int, n_shards: int) -> pd.DataFrame:
    """The same table as ``build_features_task``, built as one task per user shard on the flow's runner.

    Call inside a flow (its task runner, e.g. Dask, runs the shards). The daily summaries and the
    cross-user relations are computed here once; the shards read them from the data root, so
    every worker must see the same data root (one machine, or a shared file system).
    """
    check_shards(n_shards)
    if layout.validated(day).exists():
        check_split_complete(layout.validated(day), layout.quarantine(day))
    with shared_lock(layout, "features-state"):  # shards read the summaries: hold it until they are done
        inputs = prepare_day_inputs(layout, day, window_days)
        scratch = layout.state / "feature-shards"
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch, prefix=f"{day.isoformat()}-") as tmp:
            global_files = write_day_globals(inputs, Path(tmp))
            futures = build_shard_task.map(unmapped(inputs), unmapped(global_files), list(range(n_shards)),
                                           unmapped(n_shards))
            parts = futures.result()
    return merge_shard_features(parts)


@task(name="check-feature-table", cache_policy=NO_CACHE)
def check_features_task(layout: DataLayout, day: date, features: pd.DataFrame) -> None:
    """The GX feature suite in front of the detectors: one row per active user, sane values."""
    validate_feature_table(features, expected_rows=active_user_count(layout, day))


def active_user_count(layout: DataLayout, day: date) -> int:
    """Distinct non-null user_ids in the day's validated events, counted by DuckDB over the Parquet
    (reading 10M ids into pandas for ``nunique`` cost more than the check itself)."""
    files = parquet_files(layout.validated(day))
    if not files:
        raise DataMissingError(f"no validated events for {day}")
    con = connect()
    try:
        return int(con.execute(f"SELECT count(DISTINCT user_id) FROM {parquet_source(files)}").fetchone()[0])
    finally:
        con.close()


@task(name="write-day-features", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def write_features_task(layout: DataLayout, day: date, features: pd.DataFrame) -> Path:
    return write_day_features(layout, day, features)


@task(name="record-features-status", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def record_status_task(layout: DataLayout, result: FeaturesResult) -> None:
    update_day_status(layout, result.day, "features", {
        "rows": result.rows, "path": str(result.path), "window_days": result.window_days,
        "schema_version": result.schema_version,
    })
