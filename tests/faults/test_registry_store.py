"""The sqlite MLflow store survives a kill -9 or a full disk while it is first created."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tasks.errors import ShopguardError
from tasks.tracking import ensure_sqlite_store, mlflow_client, sqlite_store_problem

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # each builds a real MLflow store (~10 s on 2 busy cores)

CREATE = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    if len(sys.argv) > 2:  # a "disk" that holds only this many bytes per file
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
    from tasks.errors import ShopguardError
    from tasks.tracking import ensure_sqlite_store
    try:
        ensure_sqlite_store(Path(sys.argv[1]))
    except ShopguardError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
""")


def create_command(db: Path, *extra: str) -> dict:
    return dict(args=[sys.executable, "-c", CREATE, str(db), *extra], env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_create(db: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(**create_command(db, *extra), timeout=240)


def settings_for(db: Path):
    from tasks.settings import Settings

    return Settings(data_dir=db.parent, mlflow_tracking_uri=f"sqlite:///{db}", prefect_api_url=None)


def test_kill_9_during_creation_leaves_no_store_that_later_commands_refuse(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = subprocess.Popen(**create_command(db))
    deadline = time.monotonic() + 180
    while not list(tmp_path.glob(".mlflow.db.creating-*")):  # the migration has started
        assert proc.poll() is None and time.monotonic() < deadline, "creation never started"
        time.sleep(0.01)
    time.sleep(0.5)  # well inside the ~30 alembic migrations
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not db.exists() or sqlite_store_problem(db) is None  # never a half-built store in place

    client = mlflow_client(settings_for(db))  # the next command builds it afresh
    experiment_id = client.create_experiment("after-crash")
    assert client.get_experiment(experiment_id).name == "after-crash"
    assert sqlite_store_problem(db) is None and not list(tmp_path.glob(".mlflow.db.creating-*"))


def test_full_disk_during_creation_is_one_line_and_a_rerun_succeeds(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = run_create(db, "200000")  # MLflow's empty store is ~1 MB
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()  # logging may precede it; the error is the last line
    assert message[-1].startswith(f"could not create the MLflow store {db}") and "disk I/O error" in message[-1]
    assert not db.exists() and not list(tmp_path.glob(".mlflow.db.creating-*"))
    proc = run_create(db)  # space is back
    assert proc.returncode == 0, proc.stderr
    assert sqlite_store_problem(db) is None


def test_a_store_left_half_migrated_by_older_code_is_rebuilt_only_when_empty(tmp_path):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as half:  # what MLflow's in-place creation left after a kill
        half.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        half.execute("CREATE TABLE _alembic_tmp_model_versions (name TEXT)")
        half.execute("CREATE TABLE runs (run_uuid TEXT)")
    ensure_sqlite_store(db)
    assert sqlite_store_problem(db) is None
    assert len(list(tmp_path.glob("mlflow.db.incomplete-*"))) == 1  # moved aside, not deleted

    damaged = tmp_path / "damaged.db"
    with sqlite3.connect(damaged) as bad:
        bad.execute("CREATE TABLE runs (run_uuid TEXT)")
        bad.execute("INSERT INTO runs VALUES ('someone-s-history')")
    with pytest.raises(ShopguardError, match="is damaged .* holds runs"):
        ensure_sqlite_store(damaged)
    with sqlite3.connect(damaged) as bad:  # left exactly as it was
        assert bad.execute("SELECT run_uuid FROM runs").fetchall() == [("someone-s-history",)]
