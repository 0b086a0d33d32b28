"""Reading a day's features and writing its scores and alerts, atomically (Prefect tasks)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task

from tasks.errors import DataMissingError
from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, read_partition, staged_directory

log = logging.getLogger(__name__)


def read_day_features(layout: DataLayout, day: date) -> pd.DataFrame:
    directory = layout.features(day)
    if not parquet_files(directory):
        raise DataMissingError(f"no features for {day}: {directory} is empty; run `shopguard features --date {day}` first")
    features = read_partition(directory)
    if features.empty:
        raise DataMissingError(f"no features for {day}: the feature table has no rows")
    return features


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
    return _write_dir_atomic(layout.scores(day), {"part-0.parquet": pa.Table.from_pandas(scores, preserve_index=False)})


def write_day_alerts(layout: DataLayout, day: date, alerts: pd.DataFrame) -> Path:
    """alerts/date=D: the ranked Parquet plus a CSV (the HTML page is rendered into reports/alerts/)."""
    return _write_dir_atomic(layout.alerts(day), {
        "part-0.parquet": pa.Table.from_pandas(alerts, preserve_index=False),
        "alerts.csv": alerts.to_csv(index=False),
    })


def read_day_scores(layout: DataLayout, day: date) -> pd.DataFrame:
    directory = layout.scores(day)
    if not parquet_files(directory):
        raise DataMissingError(f"no scores for {day}: run `shopguard score --date {day}` first")
    return read_partition(directory)


# Missing input is not transient, so only the writes retry.
load_features_task = task(read_day_features, name="load-day-features")
write_scores_task = task(write_day_scores, name="write-day-scores", retries=2, retry_delay_seconds=2)
write_alerts_task = task(write_day_alerts, name="write-day-alerts", retries=2, retry_delay_seconds=2)
