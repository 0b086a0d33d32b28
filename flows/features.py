"""`shopguard features --date D`: build one day's user-day behaviour features into Parquet."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
from prefect import flow

from flows.engine import dask_task_runner, uses_dask
from tasks.features.flow_tasks import (
    FeaturesResult,
    build_features_sharded,
    build_features_task,
    check_features_task,
    record_status_task,
    write_features_task,
)
from tasks.layout import DataLayout
from tasks.settings import Settings

log = logging.getLogger(__name__)


@flow(name="shopguard-features-sharded", flow_run_name="features {day} in {n_shards} shards", log_prints=False)
def sharded_features_flow(layout: DataLayout, day: date, window_days: int, n_shards: int) -> pd.DataFrame:
    """The day's feature table built one user shard per task on this flow's runner (Dask)."""
    return build_features_sharded(layout, day, window_days, n_shards)


@flow(name="shopguard-features", flow_run_name="features {day}", log_prints=False)
def features_flow(day: date, settings: Settings, window_days: int | None = None) -> FeaturesResult:
    """Build features/date=D from validated events of the trailing window and the users table.

    With ``settings.dask_address`` the table is built per user shard on that Dask cluster (the
    same rows and values). The table passes the GX feature suite before it is written; a failing
    table stops the day.
    """
    layout = DataLayout(settings.data_dir)
    window = window_days or settings.features.window_days
    if uses_dask(settings):  # same table, one task per user shard on the cluster
        sharded = sharded_features_flow.with_options(task_runner=dask_task_runner(settings))
        features = sharded(layout=layout, day=day, window_days=window, n_shards=settings.dask_shards)
    else:
        features = build_features_task(layout, day, window)
    check_features_task(layout, day, features)  # stops the day before a bad table is written
    path = write_features_task(layout, day, features)
    result = FeaturesResult(day=day, path=path, rows=len(features), window_days=window)
    record_status_task(layout, result)
    log.info("features %s: %d user rows, %d-day window -> %s", day, result.rows, window, path)
    return result
