"""Is today's alert rate inside the band the trailing days define?

``alert_rate_band`` is pure; ``trailing_alert_rates`` reads the per-day status records.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta

from tasks.layout import DataLayout
from tasks.run_status import read_day_record

MIN_TRAILING_DAYS = 3  # fewer scored days than this: no band, the check abstains
RATE_FLOOR = 0.001  # a trailing median of 0 alerts would make any alert "out of band"


def alert_rate_band(trailing_rates: list[float], band: float) -> tuple[float, float] | None:
    """``[median / band, median * band]`` of the trailing days' alert rates, or None without history."""
    if len(trailing_rates) < MIN_TRAILING_DAYS:
        return None
    median = max(statistics.median(trailing_rates), RATE_FLOOR)
    return median / band, median * band


def trailing_alert_rates(layout: DataLayout, day: date, days: int) -> list[float]:
    """Alert rates that the scoring stage recorded for the ``days`` days before ``day``."""
    rates = []
    for offset in range(1, days + 1):
        scoring = read_day_record(layout, day - timedelta(days=offset)).scoring
        if scoring is not None:
            rates.append(scoring.alert_rate)
    return rates
