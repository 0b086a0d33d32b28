"""Scoring one user shard of a day's features on a worker, and putting the shards back together.

A shard task gets paths, never frames or models: it reads its users' rows from the day's feature
file and loads the champion from the data root's model cache (once per worker process), so only
the scores travel back. Ranking needs the whole day (percentiles) and runs after the merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.errors import ShopguardError
from tasks.features.engine import connect, parquet_source
from tasks.scoring.scoring import score_features
from tasks.shards import shard_predicate


def read_feature_shard(path: Path, shard: int, n_shards: int) -> pd.DataFrame:
    """The rows of one user shard, with the same columns, types and order as the catalog's load."""
    schema = pq.read_schema(path)
    con = connect(threads=1)
    try:
        table = con.sql(f"SELECT * FROM {parquet_source([path])} WHERE {shard_predicate(shard, n_shards)} "
                        "ORDER BY user_id").to_arrow_table()
    finally:
        con.close()
    frame = table.select(schema.names).cast(schema).to_pandas()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


@lru_cache(maxsize=2)
def _cached_model(model_dir: str) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_dir)


@task(name="score-shard", cache_policy=NO_CACHE)
def score_shard_task(model_dir: Path, version: str, features_file: Path, shard: int, n_shards: int) -> pd.DataFrame:
    return score_features(_cached_model(str(model_dir)), read_feature_shard(features_file, shard, n_shards), version)


def merge_shard_scores(keys: pd.DataFrame, parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The shards' scores in the order of ``keys`` (the day's feature rows), as in-process scoring has them."""
    scores = pd.concat([p for p in parts if len(p)] or list(parts[:1]), ignore_index=True)
    merged = keys[["user_id"]].merge(scores, on="user_id", how="left", validate="one_to_one", sort=False)
    if len(scores) != len(keys) or merged["anomaly_score"].isna().any():
        raise ShopguardError(f"shards scored {len(scores)} rows for {len(keys)} feature rows")
    return merged[list(scores.columns)]
