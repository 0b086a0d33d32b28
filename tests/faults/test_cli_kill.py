"""kill -9 of a command leaves no private Prefect API behind (the kernel's parent-death signal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout_s: float, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(poll_s)
    return None


@pytest.mark.slow
def test_kill_9_of_a_command_stops_its_private_prefect_server(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    command = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "--data-dir", str(tmp_path / "data"), "generate",
         "--start", "2026-01-01", "--days", "1", "--users", "50"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(command.pid)

        def private_server():
            return [child for child in parent.children(recursive=True)
                    if "infra.ephemeral_prefect:create_ephemeral_app" in " ".join(child.cmdline())]

        servers = _wait_for(private_server, timeout_s=60)
        assert servers, "the command never started its private Prefect API"
        os.kill(command.pid, signal.SIGKILL)
        command.wait(timeout=10)
        gone, alive = psutil.wait_procs(servers, timeout=15)
        assert not alive, f"private Prefect API still running after kill -9 of its command: {alive}"
    finally:
        if command.poll() is None:
            command.kill()
