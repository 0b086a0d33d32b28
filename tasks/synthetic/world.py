"""Generate a world: the users file once, then each day's events and labels (any day, any order)."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic
from tasks.synthetic.anomalies import plan_anomalous_sessions
from tasks.synthetic.behaviour import DayMood, day_mood
from tasks.synthetic.config import DaySummary, GenerationSummary, WorldConfig
from tasks.synthetic.normal import active_normal_users, plan_normal_sessions
from tasks.synthetic.population import Population, build_population, day_start_us
from tasks.synthetic.schema import ANOMALY_KINDS, EVENT_SCHEMA, LABEL_SCHEMA
from tasks.synthetic.sessions import EventBlock, expand_sessions
from tasks.synthetic.table import events_table
from tasks.synthetic.writer import PartitionWriter

log = logging.getLogger(__name__)

ACCOUNT_TAKEOVER = ANOMALY_KINDS.index("account_takeover")


def write_users(layout: DataLayout, population: Population) -> None:
    write_partition_atomic(population.users_table(), layout.users.parent, layout.users.name)


def day_rng(seed: int, day: date, chunk: int) -> np.random.Generator:
    """Each (seed, day, chunk) has its own stream, so days can be made independently."""
    return np.random.default_rng([seed, day.toordinal(), chunk])


def generate_chunk(population: Population, users: np.ndarray, day: date, mood: DayMood,
                   rng: np.random.Generator) -> EventBlock | None:
    """All events of ``users`` (a contiguous slice of the population) on ``day``."""
    cast = population.cast
    rows = cast.misbehaving(users, day.toordinal())
    kinds = cast.kind_of(rows)
    # Takeover victims still shop as themselves; every other bad actor is busy misbehaving.
    busy = (kinds >= 0) & (kinds != ACCOUNT_TAKEOVER)
    groups = []
    visitors = active_normal_users(population, users, day, mood, rng, busy)
    if len(visitors):
        groups.append(plan_normal_sessions(population, visitors, day, mood, rng))
    camouflaged = cast.camouflaged[np.maximum(rows, 0)] if len(cast.user) else np.zeros(len(rows), bool)
    for code, kind in enumerate(ANOMALY_KINDS):
        for variant in (False, True):
            mine = (kinds == code) & (camouflaged == variant)
            if mine.any():
                groups.append(plan_anomalous_sessions(kind, variant, population, users[mine], rows[mine], day, rng))
    start_us = day_start_us(day)
    blocks = [expand_sessions(group, rng, population.catalogue, start_us) for group in groups]
    blocks = [b for b in blocks if len(b)]
    return EventBlock.concat(blocks) if blocks else None


def labels_table(population: Population, day: date, active_users: np.ndarray) -> pa.Table:
    """One row per user active on the day: is the user misbehaving, and how."""
    cast = population.cast
    kinds = cast.kind_of(cast.misbehaving(active_users, day.toordinal()))
    return pa.table({
        "user_id": population.user_ids.take(pa.array(active_users)),
        "date": pa.array(np.full(len(active_users), day), type=pa.date32()),
        "is_anomaly": pa.array(kinds >= 0),
        "anomaly_type": pa.array(ANOMALY_KINDS).take(pa.array(kinds, mask=kinds < 0)),
    }, schema=LABEL_SCHEMA)


def generate_day(layout: DataLayout, population: Population, day: date) -> DaySummary:
    """Write raw/events/date=D (one part file per user chunk) and raw/labels/date=D."""
    config = population.config
    if not config.start <= day <= config.end:
        raise ValueError(f"{day} is outside the world {config.start}..{config.end}")
    promotion = day == config.promotion_day
    mood = day_mood(day, promotion)
    chunk_starts = range(0, population.size, config.chunk_users)
    events = 0
    active_parts: list[np.ndarray] = []
    with PartitionWriter(layout.raw_events(day), EVENT_SCHEMA) as writer:
        for chunk, first_user in enumerate(tqdm(chunk_starts, desc=f"{day} chunks", unit="chunk",
                                                leave=False, disable=len(chunk_starts) < 4)):
            users = np.arange(first_user, min(first_user + config.chunk_users, population.size))
            block = generate_chunk(population, users, day, mood, day_rng(config.seed, day, chunk))
            if block is None:
                continue
            writer.write(events_table(block, day, chunk, population.user_ids, population.catalogue))
            events += len(block)
            active_parts.append(np.unique(block.user))
            del block  # keep one chunk in memory at a time
    active = np.concatenate(active_parts) if active_parts else np.zeros(0, dtype=np.int64)
    labels = labels_table(population, day, active)
    write_partition_atomic(labels, layout.labels(day).parent, layout.labels(day).name)

    kinds = labels.column("anomaly_type").drop_null().to_pylist()
    by_kind = {kind: kinds.count(kind) for kind in ANOMALY_KINDS if kind in kinds}
    summary = DaySummary(day=day, events=events, active_users=len(active), anomalous_users=len(kinds),
                         anomalous_by_kind=by_kind, part_files=writer.parts, promotion=promotion)
    log.info("%s: %d events, %d active users, %d anomalous %s%s", day, events, len(active), len(kinds),
             by_kind, " (promotion)" if promotion else "")
    return summary


def generate_world(layout: DataLayout, config: WorldConfig) -> GenerationSummary:
    """Write a whole world without Prefect (handy in tests and benchmarks)."""
    population = build_population(config)
    write_users(layout, population)
    days = [generate_day(layout, population, day) for day in tqdm(config.day_list, desc="days", unit="day",
                                                                  disable=config.days < 4)]
    return GenerationSummary(users=population.size, days=days)
