"""MLflow down, or killed mid-train: bounded retries, one line naming the server's URL, and the
killed parent run does not stay RUNNING. Real `mlflow server` on 127.0.0.1 and real CLI processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_training_units import END, write_feature_window

from infra.servers import mlflow_server, start
from tasks.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOUND_SECONDS = 120  # start-up (~15-30 s on 2 busy cores) plus about a minute of retries


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


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, float]:
    started = time.monotonic()
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.strip().splitlines()[-1] if err.strip() else "", time.monotonic() - started


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
        assert seconds < BOUND_SECONDS, f"took {seconds:.0f} s to fail: {last}"
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
        deadline = time.monotonic() + 300
        while True:  # kill the server once the retrain's parent run exists
            assert train.poll() is None and time.monotonic() < deadline, "train ended before the kill"
            experiment = client.get_experiment_by_name("shopguard")
            if experiment is not None and client.search_runs([experiment.experiment_id]):
                break
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        code, last, seconds = finish(train)
        assert code == 1 and url in last, last
        assert seconds < BOUND_SECONDS - 20, f"took {seconds:.0f} s after the kill: {last}"

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
