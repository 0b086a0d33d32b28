"""The normal volume band: a day's row count against the median of the trailing days.

Trailing counts come from the previous days' validated + quarantine partitions (every row that
entered those days), read from Parquet footers, so the band costs milliseconds.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files
from tasks.validation.reading import row_count


@dataclass(frozen=True)
class VolumeBand:
    median: float
    min_rows: int
    max_rows: int
    days: int  # trailing days the median is taken over

    def describe(self) -> str:
        return f"{self.min_rows}..{self.max_rows} rows (median {self.median:.0f} of {self.days} trailing days)"


def trailing_day_counts(layout: DataLayout, day: date, days: int) -> dict[date, int]:
    """Rows that entered each of the ``days`` days before ``day`` (days never validated are absent)."""
    counts: dict[date, int] = {}
    for back in range(1, days + 1):
        previous = day - timedelta(days=back)
        files = parquet_files(layout.validated(previous)) + parquet_files(layout.quarantine(previous))
        if files:
            counts[previous] = row_count(files)
    return counts


def volume_band(counts: list[int], low_ratio: float, high_ratio: float) -> VolumeBand | None:
    """[median x low, median x high] of the trailing counts; None with no history to compare with."""
    if not counts:
        return None
    median = float(statistics.median(counts))
    return VolumeBand(median=median, min_rows=math.floor(median * low_ratio),
                      max_rows=math.ceil(median * high_ratio), days=len(counts))
