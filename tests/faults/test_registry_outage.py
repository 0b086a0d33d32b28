"""MLflow down, or killed mid-train: bounded retries, one line naming the server's URL, and the
killed parent run does not stay RUNNING. Real `mlflow server` on 127.0.0.1 and real CLI processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from test_training_units import END, write_feature_window

from infra.servers import mlflow_server, start
from tasks.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_UP_SECONDS = 180  # imports and Prefect's temporary server: 15 s idle, minutes on 2 busy cores
RETRY_SECONDS = 60  # from MLflow's first retry to the exit: the bound this guards (it was 9-17 min)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(data_dir: Path, tracking_uri: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": tracking_uri,
           "PREFECT_HOME": str(data_dir.parent / f"prefect-{args[0]}-{time.monotonic_ns()}"),
           "SHOPGUARD_TRAINING__DETECTORS": "gaussian,ecod"}
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, str, float]:
    """(exit code, last stderr line, seconds from MLflow's first retry warning to the exit)."""
    _, err = proc.communicate(timeout=timeout)
    ended = datetime.now()
    lines = err.strip().splitlines()
    first_retry = next((line[:8] for line in lines if "Retrying" in line), None)
    retrying = 0.0
    if first_retry is not None:  # log lines start with HH:MM:SS
        retry_at = datetime.combine(ended.date(), datetime.strptime(first_retry, "%H:%M:%S").time())
        retrying = (ended - retry_at).total_seconds() % 86_400
    return proc.returncode, lines[-1] if lines else "", retrying


@pytest.fixture
def world(tmp_path):
    data_dir = tmp_path / "data"
    write_feature_window(Settings(data_dir=data_dir, mlflow_tracking_uri=None, prefect_api_url=None), users=120)
    return data_dir


def test_score_and_train_with_mlflow_down_fail_fast_in_one_line(world):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    score, train = cli(world, url, "score", "--date", END.isoformat()), cli(world, url, "train", "--end",
                                                                            END.isoformat(), "--trials", "1")
    for proc in (score, train):
        code, last, seconds = finish(proc)
        assert code == 1 and last.startswith("shopguard: error:") and url in last, last
        assert 0 < seconds < RETRY_SECONDS, f"retried {seconds:.0f} s before failing: {last}"
    assert not (world / "scores").exists()  # nothing half-written


def test_mlflow_killed_mid_train_fails_bounded_and_the_next_train_closes_the_run(world, tmp_path):
    from mlflow import MlflowClient

    port = free_port()
    server_dir = tmp_path / "server"
    server = mlflow_server(server_dir, port)
    process = start(server, server_dir)
    url = server.ui_url
    client = MlflowClient(tracking_uri=url)
    train = cli(world, url, "train", "--end", END.isoformat(), "--trials", "6")
    try:
        deadline = time.monotonic() + START_UP_SECONDS + 300
        while True:  # kill the server once the retrain's parent run exists
            assert train.poll() is None and time.monotonic() < deadline, "train ended before the kill"
            experiment = client.get_experiment_by_name("shopguard")
            if experiment is not None and client.search_runs([experiment.experiment_id]):
                break
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        killed = time.monotonic()
        code, last, _ = finish(train)
        assert code == 1 and url in last, last
        seconds = time.monotonic() - killed
        assert seconds < 2 * RETRY_SECONDS, f"took {seconds:.0f} s after the kill: {last}"

        process = start(server, server_dir)  # back, same store
        code, last, _ = finish(cli(world, url, "train", "--end", END.isoformat(), "--trials", "1"))
        assert code == 0, last
        parents = [r for r in client.search_runs([experiment.experiment_id])
                   if "mlflow.parentRunId" not in r.data.tags]
        assert sorted(r.info.status for r in parents) == ["FAILED", "FINISHED"]
        assert not client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
    finally:
        if train.poll() is None:
            train.kill()
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
