"""kill -9 of the features and score stages, early and mid-write: afterwards no partial or unreadable
Parquet in any partition, no lock left that blocks, and a rerun gives the same rows as a clean run.

The stage runs in a real child process; a wrapper around pyarrow's write_table writes half of the
chosen file, announces it and waits, so the SIGKILL lands exactly mid-write.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_validation_data import DAY, clean_events, to_table, write_users

from tasks.layout import DataLayout
from tasks.locks import shared_lock, stage_lock
from tasks.validation.outputs import REASON_COLUMN, write_split

ROOT = Path(__file__).resolve().parents[2]
DAYS = [DAY - timedelta(days=1), DAY]

STAGE = textwrap.dedent("""
    import os, sys, time
    from datetime import date
    from pathlib import Path
    import pyarrow.parquet as pq
    stage, root, day, kill_at = sys.argv[1], Path(sys.argv[2]), date.fromisoformat(sys.argv[3]), int(sys.argv[4])
    real_write, writes = pq.write_table, [0]

    def write_then_hang(table, where, **kwargs):
        writes[0] += 1
        real_write(table, where, **kwargs)
        if writes[0] == kill_at:
            os.truncate(where, os.path.getsize(where) // 2)  # half a file on disk, then the kill
            print("WRITING", where, flush=True)
            time.sleep(120)

    pq.write_table = write_then_hang
    from tasks.layout import DataLayout
    layout = DataLayout(root)
    if kill_at == 0:
        print("STARTED", flush=True)
    if stage == "features":
        from tasks.features.flow_tasks import build_features_task, check_features_task, write_features_task
        features = build_features_task.fn(layout, day, 2)
        check_features_task.fn(layout, day, features)
        write_features_task.fn(layout, day, features)
    else:
        from tasks.scoring.champion import load_champion
        from tasks.scoring.io import read_day_features, write_day_alerts, write_day_scores
        from tasks.scoring.scoring import rank_alerts, score_features
        from tasks.settings import Settings
        settings = Settings(data_dir=root, mlflow_tracking_uri=sys.argv[5])
        champion = load_champion(settings)
        scores = score_features(champion.model, read_day_features(layout, day), champion.version)
        write_day_scores(layout, day, scores)
        write_day_alerts(layout, day, rank_alerts(scores))
    print("DONE", flush=True)
""")


def run_stage(stage: str, layout: DataLayout, kill_at: int = -1, *extra: str) -> None:
    """Run the stage; with ``kill_at`` >= 0 SIGKILL it at that point (0: as soon as it started)."""
    proc = subprocess.Popen([sys.executable, "-c", STAGE, stage, str(layout.root), DAY.isoformat(), str(kill_at),
                             *extra], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_at < 0:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "DONE" in out, err.strip().splitlines()[-3:]
        return
    line = proc.stdout.readline()
    assert line.startswith(("STARTED", "WRITING")), proc.stderr.read().strip().splitlines()[-3:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def sorted_rows_hash(path: Path) -> str:
    """Hash of the rows in key order; floats to 9 decimals (DuckDB's parallel std sums differ in the last bits)."""
    frame = pq.read_table(path).to_pandas().round(9)
    frame = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


def assert_nothing_broken(layout: DataLayout) -> None:
    """Every Parquet file in a partition reads; no lock stays held."""
    for path in layout.root.rglob("*.parquet"):
        if any(part.startswith(".") for part in path.relative_to(layout.root).parts):
            continue  # a dead writer's hidden stage: never read, cleaned by the next writer
        pq.read_table(path)
    with stage_lock(layout, "validate", DAY), shared_lock(layout, "features-state", wait_seconds=0):
        pass


def hidden(layout: DataLayout) -> list[Path]:
    return [p for p in layout.root.rglob(".*") if p.name.startswith((".tmp-", ".old-"))]


def validated_days(root: Path) -> DataLayout:
    layout = DataLayout(root)
    write_users(layout)
    for day in DAYS:
        table = to_table(clean_events(day, n=300))
        empty = table.slice(0, 0).append_column(pa.field(REASON_COLUMN, pa.string()), pa.array([], pa.string()))
        write_split(table, empty, layout.validated(day), layout.quarantine(day))
    return layout


@pytest.fixture(scope="module")
def clean_features(tmp_path_factory) -> str:
    layout = validated_days(tmp_path_factory.mktemp("clean") / "data")
    run_stage("features", layout)
    return sorted_rows_hash(layout.features(DAY) / "part-0.parquet")


# write 1: mid-write of the first daily summary; 5: mid-write of the feature table itself
@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 5])
def test_killed_features_leave_nothing_broken_and_a_rerun_matches(tmp_path, clean_features, kill_at):
    layout = validated_days(tmp_path / "data")
    run_stage("features", layout, kill_at)
    assert not (layout.features(DAY) / "part-0.parquet").exists()
    assert_nothing_broken(layout)
    run_stage("features", layout)
    assert sorted_rows_hash(layout.features(DAY) / "part-0.parquet") == clean_features
    assert hidden(layout) == []
    assert_nothing_broken(layout)


@pytest.mark.slow
def test_killed_scoring_leaves_the_old_scores_and_a_rerun_matches(tmp_path):
    from test_scoring import make_features, make_settings, register_champion, write_features

    settings = make_settings(tmp_path / "data")
    layout = DataLayout(settings.data_dir)
    reference = pd.concat([make_features(DAY - timedelta(days=d), seed=d) for d in range(1, 3)])
    register_champion(settings, reference)
    write_features(settings, DAY, make_features(DAY, seed=11))
    uri = settings.mlflow_tracking_uri
    run_stage("score", layout, -1, uri)
    clean = sorted_rows_hash(layout.scores(DAY) / "part-0.parquet")
    for kill_at in (0, 2):  # early (before any write); mid-write of the alerts (scores already swapped in)
        run_stage("score", layout, kill_at, uri)
        assert_nothing_broken(layout)
        assert sorted_rows_hash(layout.scores(DAY) / "part-0.parquet") == clean  # the old scores, intact
        run_stage("score", layout, -1, uri)
        assert sorted_rows_hash(layout.scores(DAY) / "part-0.parquet") == clean
        assert hidden(layout) == []


