"""The configured Prefect server killed mid-run: the command fails in bounded time with one line
naming the server and its URL, nothing is half-written, and a rerun once it is back succeeds.
A real `prefect server start` on a random 127.0.0.1 port; the command points at it with
PREFECT_API_URL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_data_disk_full import hidden_stages

from infra.servers import prefect_server, start

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOUND_SECONDS = 120  # from the kill to the exit (Prefect's default retries took minutes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate(data_dir: Path, api_url: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": api_url,
           "PREFECT_HOME": str(data_dir.parent / "client-home")}
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), "generate", "--start",
                             "2026-01-01", "--days", "6", "--users", "3000"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_prefect_server_killed_mid_run_fails_bounded_in_one_line_and_a_rerun_succeeds(tmp_path):
    server_dir = tmp_path / "server"
    server = prefect_server(server_dir, free_port())
    process = start(server, server_dir)
    api_url = f"{server.ui_url}/api"
    data_dir = tmp_path / "data"
    command = generate(data_dir, api_url)
    try:
        deadline = time.monotonic() + 900
        while not list((data_dir / "raw" / "events").glob("date=*/*.parquet")):  # mid-run: a day is written
            assert command.poll() is None, command.stderr.read().strip().splitlines()[-3:]
            assert time.monotonic() < deadline, "generate never wrote a day"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        killed = time.monotonic()
        _, err = command.communicate(timeout=900)
        seconds = time.monotonic() - killed
        lines = err.strip().splitlines()
        ours = [line for line in lines if line.startswith("shopguard: error:")]
        assert command.returncode == 1 and len(ours) == 1, lines[-5:]
        assert f"Prefect server {api_url} stopped answering" in ours[0], ours
        assert seconds < BOUND_SECONDS, f"took {seconds:.0f} s after the kill: {ours[0]}"
        for path in data_dir.rglob("*.parquet"):  # nothing half-written
            pq.read_metadata(path)
        assert hidden_stages(data_dir / "raw") == []

        process = start(server, server_dir)  # back, same database
        rerun = generate(data_dir, api_url)
        _, err = rerun.communicate(timeout=900)
        assert rerun.returncode == 0, err.strip().splitlines()[-3:]
        assert len(list((data_dir / "raw" / "events").glob("date=*"))) == 6
    finally:
        for proc in (command, locals().get("rerun")):
            if proc is not None and proc.poll() is None:
                proc.kill()
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
