"""Prefect tasks of the scoring stage: load the champion and its reference, score and rank a day."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.scoring.champion import Champion, load_champion, load_reference_features
from tasks.scoring.scoring import rank_alerts, score_features, served_threshold

# In-memory models and frames are not worth hashing for Prefect's cache keys. No task retries:
# MLflow's client retries within a bounded time already (tasks.tracking.HTTP_LIMITS).
champion_task = task(load_champion, name="load-champion", cache_policy=NO_CACHE)
reference_task = task(load_reference_features, name="load-drift-reference", cache_policy=NO_CACHE)


@task(name="rank-alerts", cache_policy=NO_CACHE)
def rank_task(champion: Champion, scores: pd.DataFrame) -> pd.DataFrame:
    return rank_alerts(scores, served_threshold(champion.model))


@task(name="score-and-rank", cache_policy=NO_CACHE)
def score_and_rank(champion: Champion, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = score_features(champion.model, features, champion.version)
    return scores, rank_alerts(scores, served_threshold(champion.model))
