"""`shopguard backfill`: the daily flow over a range of days, in order; ``--prepare``: only validate
and build features for every day of a range (the training days of a new data root, before any
champion exists to score them).

Days whose daily run completed (prepare: whose features are current) are skipped unless ``force``. A day that fails for a known
reason (a ShopguardError: validation stopped, missing data) is recorded and the range goes on,
because later days do not need it; the command then fails with one line naming the failed days.
An unexpected error (an MLflow outage, a bug) stops the range: later days would fail the same way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import date, timedelta

from prefect import flow

from flows.console import progress
from flows.daily import daily_flow
from flows.features import features_flow
from flows.validate import validate_flow
from tasks.errors import ShopguardError, first_line
from tasks.features.catalogue import FEATURE_SCHEMA_VERSION
from tasks.features.store import FEATURE_FILE, stored_schema_version
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


def features_current(layout: DataLayout, day: date, window_days: int) -> bool:
    """The day's features exist, carry today's schema version and were built over ``window_days``."""
    path = layout.features(day) / FEATURE_FILE
    if not path.exists() or stored_schema_version(path) != FEATURE_SCHEMA_VERSION:
        return False
    return (read_day_status(layout, day).get("features") or {}).get("window_days") == window_days


def _report(command: str, results: dict[date, str]) -> None:
    lines = [f"{command}:"] + [f"  {day}  {outcome}" for day, outcome in results.items()]
    sys.stdout.write("\n".join(lines) + "\n")


def _fail_if_any(command: str, results: dict[date, str], failed: list[str]) -> None:
    if failed:
        raise ShopguardError(f"{command}: {len(failed)} of {len(results)} days failed ({', '.join(failed)}); "
                             "see reports/index.html")


def _run_days(command: str, start: date, end: date, skip: Callable[[date], str | None],
              run: Callable[[date], str]) -> dict[str, str]:
    """``run`` each day in order unless ``skip`` names why not; report, then fail naming the failed days."""
    results: dict[date, str] = {}
    failed: list[str] = []
    with progress(days_between(start, end), desc=command) as days:
        for day in days:
            if (reason := skip(day)) is not None:
                results[day] = reason
                continue
            try:
                results[day] = run(day)
            except ShopguardError as exc:
                results[day] = f"failed: {first_line(exc)}"
                failed.append(day.isoformat())
    _report(command, results)
    _fail_if_any(command, results, failed)
    return {d.isoformat(): outcome for d, outcome in results.items()}


@flow(name="backfill", flow_run_name="backfill {start} to {end}")
def backfill_flow(start: date, end: date, settings: Settings, force: bool = False) -> dict[str, str]:
    """Run each day from ``start`` to ``end`` (inclusive); returns day -> outcome."""
    layout = DataLayout(settings.data_dir)

    def skip(day: date) -> str | None:
        return "skipped (already completed)" if not force and day_completed(layout, day) else None

    return _run_days("backfill", start, end, skip, lambda day: daily_flow(day=day, settings=settings))


@flow(name="prepare", flow_run_name="prepare {start} to {end}")
def prepare_flow(start: date, end: date, settings: Settings, force: bool = False) -> dict[str, str]:
    """Validate and build features for each day from ``start`` to ``end`` (inclusive), in order.

    A day whose features are current is skipped, until a day before it in the range is (re)built:
    its events are history for the following days' features, so those are rebuilt too.
    """
    layout = DataLayout(settings.data_dir)
    window = settings.features.window_days
    rebuilding = force

    def skip(day: date) -> str | None:
        nonlocal rebuilding
        if not rebuilding and features_current(layout, day, window):
            return "skipped (features current)"
        rebuilding = True
        return None

    def prepare(day: date) -> str:
        summary = validate_flow(day=day, settings=settings)
        built = features_flow(day=day, settings=settings)
        return (f"OK ({summary.rows_validated} events validated, {summary.rows_quarantined} quarantined, "
                f"{built.rows} user rows)")

    return _run_days("prepare", start, end, skip, prepare)
