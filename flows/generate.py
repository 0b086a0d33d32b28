"""``shopguard generate``: write a synthetic e-commerce world (users, daily events, labels) as a flow.

Thin on purpose: the world is built in ``tasks.synthetic``; here the steps become Prefect tasks
(one per day, so a failed day retries alone) and the per-day summary is logged.
"""

from __future__ import annotations

import logging
import sys
from datetime import date
from typing import TextIO

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from tasks.layout import DataLayout
from tasks.settings import Settings
from tasks.synthetic import (
    DaySummary,
    Difficulty,
    GenerationSummary,
    Population,
    WorldConfig,
    build_population,
    generate_day,
    write_users,
)

log = logging.getLogger(__name__)

# The population is large (arrays per user): never hash it into a cache key.
build_population_task = task(build_population, name="build-population", cache_policy=NO_CACHE)
write_users_task = task(write_users, name="write-users", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)


@task(name="generate-day", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def generate_day_task(layout: DataLayout, population: Population, day: date) -> DaySummary:
    return generate_day(layout, population, day)


@flow(name="generate", flow_run_name="generate {start} ({days} days)")
def generate_flow(settings: Settings, start: date, days: int = 14, users: int = 5000, seed: int = 7,
                  promotion_day: date | None = None, anomaly_share: float = 0.02,
                  events_per_day: int | None = None, difficulty: Difficulty = "realistic") -> GenerationSummary:
    """Write raw/users, raw/events/date=D and raw/labels/date=D for ``days`` days from ``start``.

    The same arguments always give the same files; rerunning replaces the days it covers.
    ``difficulty`` (tasks.synthetic.difficulty): "easy" keeps every bad actor blatant.
    """
    config = WorldConfig.checked(start=start, days=days, users=users, seed=seed, promotion_day=promotion_day,
                                 anomaly_share=anomaly_share, events_per_day=events_per_day, difficulty=difficulty)
    layout = DataLayout(settings.data_dir)
    population = build_population_task(config)
    write_users_task(layout, population)
    summary = GenerationSummary(
        users=population.size, days=[generate_day_task(layout, population, day) for day in config.day_list])
    log.info("generated %d users and %d events over %d days under %s", summary.users, summary.total_events,
             len(summary.days), layout.raw)
    return summary


def write_summary(summary: GenerationSummary, stream: TextIO = sys.stdout) -> None:
    """The closing table for the command line."""
    stream.write(summary.table() + "\n")
