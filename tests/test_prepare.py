"""`shopguard backfill --prepare`: validate + features for a range of days before any champion exists."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tasks.features.store import FEATURE_FILE
from tasks.layout import DataLayout

pytestmark = pytest.mark.slow  # five days validated and featurised through the CLI

START = date(2026, 3, 1)
DAYS = [START + timedelta(days=i) for i in range(3)]


@pytest.fixture
def new_root(prefect_harness, settings):
    """A fresh data root holding only raw data: no validated days, no features, no models."""
    from flows.generate import generate_flow

    generate_flow(settings=settings, start=START, days=len(DAYS), users=150, seed=11)
    return settings


def _prepare(settings, *extra: str) -> int:
    return main(["--data-dir", str(settings.data_dir), "backfill", "--prepare",
                 "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), *extra])


def test_prepare_names_a_bad_day_skips_current_ones_and_rebuilds_after_a_changed_day(new_root, capsys):
    layout = DataLayout(new_root.data_dir)
    last_parts = sorted(layout.raw_events(DAYS[2]).glob("*.parquet"))
    originals = {part: pq.read_table(part) for part in last_parts}
    for part, table in originals.items():  # a wrong schema: validation stops the day
        pq.write_table(table.drop_columns(["device_id"]), part)

    assert _prepare(new_root) == 1
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("shopguard: error:")]
    assert error_lines == [f"shopguard: error: prepare: 1 of 3 days failed ({DAYS[2]}); see reports/index.html"]
    assert captured.out.count(" OK (") == 2 and f"{DAYS[2]}  failed: validation stopped" in captured.out
    assert all((layout.features(d) / FEATURE_FILE).exists() for d in DAYS[:2])
    assert not layout.features(DAYS[2]).exists()
    assert not layout.root.joinpath("scores").exists()  # nothing scored: there is no champion yet

    for part, table in originals.items():  # the feed is fixed, and day 2's features are lost
        pq.write_table(table, part)
    (layout.features(DAYS[1]) / FEATURE_FILE).unlink()
    assert _prepare(new_root) == 0
    out = capsys.readouterr().out
    # day 3 is rebuilt after day 2 anyway: day 2's events are part of its trailing window
    assert f"{DAYS[0]}  skipped" in out and f"{DAYS[1]}  OK" in out and f"{DAYS[2]}  OK" in out

    mtimes = [(layout.features(d) / FEATURE_FILE).stat().st_mtime_ns for d in DAYS]
    assert _prepare(new_root) == 0
    assert capsys.readouterr().out.count("skipped (features current)") == len(DAYS)
    assert [(layout.features(d) / FEATURE_FILE).stat().st_mtime_ns for d in DAYS] == mtimes
