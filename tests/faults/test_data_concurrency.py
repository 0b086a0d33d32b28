"""Concurrent commands on one data root: other days run safely, the same day is refused in one line.

Real processes run the real validation (Great Expectations file project, Data Docs) and the real
feature build (DuckDB, the shared daily-summary cache) at the same time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_validation_data import DAY, clean_events, write_events, write_users

from tasks.layout import DataLayout
from tasks.locks import stage_lock
from tasks.validation.outputs import check_split_complete

ROOT = Path(__file__).resolve().parents[2]
DAYS = [DAY + timedelta(days=i) for i in range(2)]

RUN = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    from tasks.errors import ShopguardError
    from tasks.layout import DataLayout
    from tasks.settings import ValidationSettings
    stage, root, days, repeats = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
    layout = DataLayout(root)
    try:
        for _ in range(repeats):
            for day in map(date.fromisoformat, days):
                if stage == "validate":
                    from tasks.validation.day import validate_day
                    summary = validate_day(layout, day, ValidationSettings())
                    assert not summary.stopped, summary.reason
                else:
                    from tasks.features.flow_tasks import build_features_task
                    from tasks.features.store import write_day_features
                    for part in layout.validated(day).glob("*.parquet"):
                        part.touch()  # a changed fingerprint: every window's summaries are rebuilt
                    write_day_features(layout, day, build_features_task.fn(layout, day, 3))
    except ShopguardError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
""")


def _start(stage: str, root: Path, days: list, repeats: int = 1) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN, stage, str(root), ",".join(d.isoformat() for d in days),
                             str(repeats)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err.strip()


def _raw_day(layout: DataLayout) -> None:
    write_users(layout)
    for i, day in enumerate(DAYS):
        write_events(layout, day, clean_events(day, n=200 + 20 * i))


@pytest.mark.slow
def test_different_days_validate_and_featurise_at_once(tmp_path):
    layout = DataLayout(tmp_path / "data")
    _raw_day(layout)
    procs = [_start("validate", layout.root, [day]) for day in DAYS]
    for proc in procs:
        code, err = _finish(proc)
        assert code == 0, err.splitlines()[-1:]
    for i, day in enumerate(DAYS):
        check_split_complete(layout.validated(day), layout.quarantine(day))
        assert pq.read_metadata(layout.validated(day) / "part-0.parquet").num_rows == 200 + 20 * i

    procs = [_start("features", layout.root, [day]) for day in DAYS]
    for proc in procs:
        code, err = _finish(proc)
        assert code == 0, err.splitlines()[-1:]
    concurrent = {day: pd.read_parquet(layout.features(day) / "part-0.parquet") for day in DAYS}

    # the same builds one after another give the same tables
    code, err = _finish(_start("features", layout.root, DAYS))
    assert code == 0, err
    for day in DAYS:
        pd.testing.assert_frame_equal(concurrent[day], pd.read_parquet(layout.features(day) / "part-0.parquet"))
    hidden = [p for p in layout.root.rglob(".*") if p.name.startswith((".tmp-", ".old-"))]
    assert hidden == []


def test_the_same_day_twice_is_refused_in_one_line(tmp_path):
    layout = DataLayout(tmp_path / "data")
    _raw_day(layout)
    with stage_lock(layout, "validate", DAYS[0]):
        code, err = _finish(_start("validate", layout.root, [DAYS[0]]))
    assert code == 1
    assert err == (f"validate for {DAYS[0]} is already running (waited 0 s for "
                   f"{layout.locks / f'validate-{DAYS[0]}.lock'}); try again when it ends")
    assert not layout.validated(DAYS[0]).exists()
    # the holder is gone (its flock went with it): the day validates
    code, err = _finish(_start("validate", layout.root, [DAYS[0]]))
    assert code == 0, err
