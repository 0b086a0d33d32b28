"""The normal volume band: a day's row count against the median of the trailing normal days.

Every day validation sees gets a small volume record (state/volume/date=D.json: its rows and
whether they were inside the band), stopped days included, so a real step in traffic is not
forgotten: once a new level has held for ``NEW_LEVEL_DAYS`` consecutive days (those days
stay stopped, each saying why), the band is taken from those days instead, and the next day at
that level passes. Rerunning validation of a stopped day then passes too, because the days
after it confirm the level. Days validated before these records existed count from their
validated + quarantine Parquet footers.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, write_text_atomic
from tasks.settings import ValidationSettings
from tasks.validation.reading import row_count

NEW_LEVEL_DAYS = 3  # consecutive days at a new volume level after which it is the new normal


@dataclass(frozen=True)
class VolumeBand:
    median: float
    min_rows: int
    max_rows: int
    days: int  # days the median is taken over
    new_level_since: date | None = None  # first day of the new level this band accepts, if any

    def describe(self) -> str:
        text = f"{self.min_rows}..{self.max_rows} rows (median {self.median:.0f} of {self.days} trailing days)"
        if self.new_level_since:
            text += f"; a new normal level since {self.new_level_since}"
        return text

    def holds(self, rows: int) -> bool:
        return self.min_rows <= rows <= self.max_rows


@dataclass(frozen=True)
class DayVolume:
    rows: int
    in_band: bool  # False: the day's rows were outside the band it was checked against


def volume_band(counts: list[int], low_ratio: float, high_ratio: float) -> VolumeBand | None:
    """[median x low, median x high] of the trailing counts; None with no history to compare with."""
    if not counts:
        return None
    median = float(statistics.median(counts))
    return VolumeBand(median=median, min_rows=math.floor(median * low_ratio),
                      max_rows=math.ceil(median * high_ratio), days=len(counts))


def record_day_volume(layout: DataLayout, day: date, volume: DayVolume) -> None:
    write_text_atomic(layout.volume_record(day), json.dumps({"rows": volume.rows, "in_band": volume.in_band}) + "\n")


def seen_volume(layout: DataLayout, day: date) -> DayVolume | None:
    """The day's recorded volume; a day validated without a record counts from its output footers."""
    path = layout.volume_record(day)
    if path.exists():
        record = json.loads(path.read_text(encoding="utf-8"))
        return DayVolume(int(record["rows"]), bool(record["in_band"]))
    files = parquet_files(layout.validated(day)) + parquet_files(layout.quarantine(day))
    return DayVolume(row_count(files), True) if files else None


def trailing_day_counts(layout: DataLayout, day: date, days: int) -> dict[date, int]:
    """Rows of each normal day among the ``days`` days before ``day`` (unseen or out-of-band days are absent)."""
    counts: dict[date, int] = {}
    for back in range(1, days + 1):
        previous = day - timedelta(days=back)
        volume = seen_volume(layout, previous)
        if volume is not None and volume.in_band:
            counts[previous] = volume.rows
    return counts


def day_band(layout: DataLayout, day: date, rows: int, limits: ValidationSettings) -> VolumeBand | None:
    """The band ``day`` is checked against: the trailing normal days', or a new level's that has held.

    A new level is a run of consecutive seen days next to ``day`` (before or after it) whose rows
    are all outside the trailing band on the same side as ``rows``; once it is
    ``NEW_LEVEL_DAYS`` long (``day`` itself not counted), the band comes from those days.
    """
    band = volume_band(list(trailing_day_counts(layout, day, limits.volume_trailing_days).values()),
                       limits.volume_low_ratio, limits.volume_high_ratio)
    if band is None or band.holds(rows):
        return band
    above = rows > band.max_rows

    def same_side(other: date) -> int | None:
        volume = seen_volume(layout, other)
        if volume is None or band.holds(volume.rows) or (volume.rows > band.max_rows) != above:
            return None
        return volume.rows

    run: dict[date, int] = {}
    for step in (-1, 1):
        for offset in range(1, limits.volume_trailing_days + 1):
            other = day + timedelta(days=step * offset)
            other_rows = same_side(other)
            if other_rows is None:
                break
            run[other] = other_rows
    if len(run) < NEW_LEVEL_DAYS:
        return band
    level = volume_band(list(run.values()), limits.volume_low_ratio, limits.volume_high_ratio)
    return VolumeBand(level.median, level.min_rows, level.max_rows, level.days, new_level_since=min(run))


def new_level_hint(day: date) -> str:
    """What a volume stop tells on-call to do when the level is real."""
    return (f"if this level is the new normal it is accepted after {NEW_LEVEL_DAYS} consecutive days "
            f"at it; then rerun `shopguard validate --date {day}`")
