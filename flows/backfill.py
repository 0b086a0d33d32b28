"""`shopguard backfill`: the daily flow over a range of days, in order.

Days whose daily run completed are skipped unless ``force``. A day that fails for a known
reason (a ShopguardError: validation stopped, missing data) is recorded and the range goes on,
because later days do not need it; the command then fails with one line naming the failed days.
An unexpected error (an MLflow outage, a bug) stops the range: later days would fail the same way.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

from prefect import flow

from flows.console import progress
from flows.daily import daily_flow
from tasks.errors import ShopguardError, first_line
from tasks.layout import DataLayout
from tasks.run_status import read_day_status
from tasks.settings import Settings

log = logging.getLogger(__name__)


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ShopguardError(f"backfill end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_completed(layout: DataLayout, day: date) -> bool:
    return bool((read_day_status(layout, day).get("daily") or {}).get("completed"))


def _report(results: dict[date, str]) -> None:
    lines = ["backfill:"] + [f"  {day}  {outcome}" for day, outcome in results.items()]
    sys.stdout.write("\n".join(lines) + "\n")


@flow(name="backfill", flow_run_name="backfill {start} to {end}")
def backfill_flow(start: date, end: date, settings: Settings, force: bool = False) -> dict[str, str]:
    """Run each day from ``start`` to ``end`` (inclusive); returns day -> outcome."""
    layout = DataLayout(settings.data_dir)
    results: dict[date, str] = {}
    failed: list[str] = []
    with progress(days_between(start, end), desc="backfill") as days:
        for day in days:
            if not force and day_completed(layout, day):
                results[day] = "skipped (already completed)"
                continue
            try:
                results[day] = daily_flow(day=day, settings=settings)
            except ShopguardError as exc:
                results[day] = f"failed: {first_line(exc)}"
                failed.append(day.isoformat())
    _report(results)
    if failed:
        raise ShopguardError(f"backfill: {len(failed)} of {len(results)} days failed ({', '.join(failed)}); "
                             "see reports/index.html")
    return {d.isoformat(): outcome for d, outcome in results.items()}
