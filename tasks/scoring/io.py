"""Reading a day's features and writing its scores and alerts, atomically (Prefect tasks)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.catalog import DataCatalog
from tasks.layout import DataLayout
from tasks.parquet_io import staged_directory

log = logging.getLogger(__name__)


def read_day_features(layout: DataLayout, day: date) -> pd.DataFrame:
    """The day's feature table after the catalog's checks (one part file, schema, date, unique keys)."""
    return DataCatalog(layout).load("features", day)


def read_day_feature_keys(layout: DataLayout, day: date) -> pd.DataFrame:
    """The day's (user_id, date) keys in file order, after the same checks as ``read_day_features``."""
    return DataCatalog(layout).load("features", day, columns=[])


def _write_dir_atomic(directory: Path, files: dict[str, pa.Table | str]) -> Path:
    """Write several files into a temp sibling and swap it in: a rerun replaces, never adds."""
    with staged_directory(directory) as tmp:
        for name, content in files.items():
            if isinstance(content, str):
                (tmp / name).write_text(content, encoding="utf-8")
            else:
                pq.write_table(content, tmp / name, compression="zstd")
    return directory


def write_day_scores(layout: DataLayout, day: date, scores: pd.DataFrame) -> Path:
    return DataCatalog(layout).save("scores", day, scores).parent


def write_day_alerts(layout: DataLayout, day: date, alerts: pd.DataFrame) -> Path:
    """alerts/date=D: the ranked Parquet plus a CSV (the HTML page is rendered into reports/alerts/)."""
    return _write_dir_atomic(layout.alerts(day), {
        "part-0.parquet": pa.Table.from_pandas(alerts, preserve_index=False),
        "alerts.csv": alerts.to_csv(index=False),
    })


def read_day_scores(layout: DataLayout, day: date) -> pd.DataFrame:
    return DataCatalog(layout).load("scores", day)


# Missing input is not transient, so only the writes retry.
load_features_task = task(read_day_features, name="load-day-features")
load_feature_keys_task = task(read_day_feature_keys, name="load-day-feature-keys")
write_scores_task = task(write_day_scores, name="write-day-scores", retries=2, retry_delay_seconds=2)
write_alerts_task = task(write_day_alerts, name="write-day-alerts", retries=2, retry_delay_seconds=2)
