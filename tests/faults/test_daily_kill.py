"""kill -9 of `shopguard daily` at several points: after validation wrote its split, after the
features, after the scores. Afterwards no partial or unreadable Parquet, no lock that blocks, and
a rerun gives the same rows (sorted-row hash) as a clean run.

Real CLI processes (Prefect's temporary server, GX, the sqlite MLflow store, Evidently). The test
watches the data root for the stage's output, freezes the process (SIGSTOP) the moment it appears
and SIGKILLs it; each killed run starts from what the previous kill left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_data_kill import assert_nothing_broken, hidden, sorted_rows_hash
from test_scoring import make_features, make_settings, register_champion
from test_validation_data import DAY, clean_events, write_events, write_users

from tasks.layout import DataLayout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 1200  # a busy 2-core machine; idle it is about a minute per daily


def daily(data_dir: Path, prefect_home: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(prefect_home),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
           "SHOPGUARD_MONITORING__DRIFT_SHARE_THRESHOLD": "1.0"}  # the planted champion drifts: no retrain here
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), "daily", "--date",
                             DAY.isoformat()], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err.strip().splitlines()[-3:]


def kill_when_written(proc: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not (folder / "part-0.parquet").exists():
        assert proc.poll() is None, f"daily ended before {folder.name}: {proc.stderr.read().strip().splitlines()[-3:]}"
        assert time.monotonic() < deadline, f"daily never wrote {folder}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def outputs(layout: DataLayout) -> dict[str, str]:
    folders = {"validated": layout.validated(DAY), "features": layout.features(DAY), "scores": layout.scores(DAY)}
    return {name: sorted_rows_hash(folder / "part-0.parquet") for name, folder in folders.items()}


@pytest.fixture
def pristine(tmp_path) -> Path:
    """A day of raw events, the users table and a registered champion in an embedded MLflow store."""
    settings = make_settings(tmp_path / "pristine" / "data")
    layout = DataLayout(settings.data_dir)
    write_users(layout)
    write_events(layout, DAY, clean_events(DAY, n=300))
    register_champion(settings, pd.concat([make_features(DAY - timedelta(days=d), seed=d) for d in (1, 2)]))
    shutil.rmtree(layout.state / "models", ignore_errors=True)
    return settings.data_dir


def test_daily_killed_at_each_stage_leaves_nothing_broken_and_a_rerun_matches_a_clean_run(pristine, tmp_path):
    prefect_home = tmp_path / "prefect"  # one home: its database is migrated once
    clean, killed = DataLayout(tmp_path / "clean" / "data"), DataLayout(tmp_path / "killed" / "data")
    for layout in (clean, killed):
        shutil.copytree(pristine, layout.root)
    finish(daily(clean.root, prefect_home))
    expected = outputs(clean)

    raw_before = {p: p.read_bytes() for p in killed.raw.rglob("*.parquet")}
    for folder in (killed.validated(DAY), killed.features(DAY), killed.scores(DAY)):
        kill_when_written(daily(killed.root, prefect_home), folder)
        assert_nothing_broken(killed)  # every visible Parquet reads; no lock held
    finish(daily(killed.root, prefect_home))
    assert outputs(killed) == expected
    assert hidden(killed) == []
    assert_nothing_broken(killed)
    assert {p: p.read_bytes() for p in killed.raw.rglob("*.parquet")} == raw_before
