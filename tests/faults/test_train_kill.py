"""kill -9 of `shopguard train` at several points, registration included: afterwards no
half-registered version serves (champion unchanged, or fully promoted with its decision), the lock
does not block, and the next train succeeds and marks the dead retrain's version ``abandoned``.

Real CLI processes on a sqlite MLflow store in the data root. The test reads the store (read-only)
to see the retrain's progress, freezes the process (SIGSTOP) the moment it sees the chosen point,
reads the store again, and SIGKILLs it: the kill lands exactly where the store says it is.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_training_units import END, write_feature_window

from tasks.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODEL = "shopguard-detector"
TIMEOUT = 1500  # imports, a first Prefect migration and a 1-trial sweep; minutes on 2 busy cores


def cli(data_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOPGUARD_TRAINING__DETECTORS": "gaussian,ecod",
           # one Prefect home for the test's trains: its database is migrated once (minutes when busy)
           "PREFECT_HOME": str(data_dir.parent / "prefect"), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def train(data_dir: Path) -> subprocess.Popen:
    return cli(data_dir, "train", "--end", END.isoformat(), "--trials", "1")


def query(db: Path, sql: str, *params) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # the store's tables are not created yet
            return []


def registry(db: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """({version: its tags}, {alias: version}) as the store holds them now."""
    versions = {str(v): {} for (v,) in query(db, "SELECT version FROM model_versions WHERE name = ?", MODEL)}
    for version, key, value in query(db, "SELECT version, key, value FROM model_version_tags WHERE name = ?", MODEL):
        versions.setdefault(str(version), {})[key] = value
    aliases = {a: str(v) for a, v in query(db, "SELECT alias, version FROM registered_model_aliases WHERE name = ?",
                                           MODEL)}
    return versions, aliases


def running_runs(db: Path) -> int:
    return len(query(db, "SELECT run_uuid FROM runs WHERE status = 'RUNNING'"))


def registered(version: str):
    return lambda db: version in registry(db)[0]


def decided(version: str):
    return lambda db: "promotion_decision" in registry(db)[0].get(version, {})


def kill_when(proc: subprocess.Popen, db: Path, seen, point: str) -> tuple[dict, dict]:
    """SIGSTOP the moment ``seen(db)``, then SIGKILL; returns the registry as the kill left it."""
    deadline = time.monotonic() + TIMEOUT
    while not seen(db):
        assert proc.poll() is None, f"train ended before {point}: {proc.stderr.read().strip().splitlines()[-3:]}"
        assert time.monotonic() < deadline, f"train never reached {point}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert_nothing_half_served(db)
    return registry(db)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err.strip().splitlines()[-3:]


def assert_nothing_half_served(db: Path) -> None:
    """The champion is version 1, or a version whose decision says it was promoted."""
    versions, aliases = registry(db)
    champion = aliases["champion"]
    assert champion == "1" or versions[champion].get("promotion_decision") == "promoted", (versions, aliases)


def expected_after_repair(killed: tuple[dict, dict], version: str) -> str:
    """What the next train must have made of ``version`` as the kill left it."""
    versions, aliases = killed
    decision = versions[version].get("promotion_decision")
    if decision is None or (decision == "promoted" and aliases["champion"] != version
                            and "decision_applied" not in versions[version]):
        return "abandoned"
    return decision


def test_train_killed_during_registration_leaves_no_half_registered_version_serving(tmp_path):
    """Four trains: a clean one (version 1, champion); one killed the moment version 2 is registered
    (no tags yet); one killed the moment version 3's decision is recorded (aliases maybe not yet
    moved), which first marks version 2; a clean one that marks version 3 if it must."""
    data_dir = tmp_path / "data"
    write_feature_window(Settings(data_dir=data_dir, mlflow_tracking_uri=None, prefect_api_url=None), users=120)
    db = data_dir / "mlflow" / "mlflow.db"
    finish(train(data_dir))
    assert registry(db)[1]["champion"] == "1"

    after_registration = kill_when(train(data_dir), db, registered("2"), "version 2 registered")
    assert "promotion_decision" not in after_registration[0]["2"]
    after_decision = kill_when(train(data_dir), db, decided("3"), "version 3 decided")
    assert after_decision[0]["2"]["promotion_decision"] == "abandoned"  # marked by the train the kill ended

    started = time.monotonic()
    finish(train(data_dir))  # the flock died with its holder: no wait, no stale-lock error
    assert time.monotonic() - started < TIMEOUT
    versions, aliases = registry(db)
    assert_nothing_half_served(db)
    assert running_runs(db) == 0
    assert versions["4"]["promotion_decision"] in {"promoted", "rejected"}
    assert versions["4"]["decision_applied"] == "true" and aliases["challenger"] == "4"
    assert versions["2"]["promotion_decision"] == "abandoned" and "died" in versions["2"]["promotion_reason"]
    assert versions["3"]["promotion_decision"] == expected_after_repair(after_decision, "3")
    for version, tags in versions.items():  # every version says what became of it
        assert tags.get("promotion_decision") in {"promoted", "rejected", "abandoned"}, (version, tags)
