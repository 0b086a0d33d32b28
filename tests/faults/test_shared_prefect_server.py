"""Commands on one data root share one temporary Prefect API, and it never outlives them by more
than the idle time, however they end (kill -9 included: the kernel drops a dead command's claim)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
IDLE_S = 8


def _wait_for(predicate, timeout_s: float, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(poll_s)
    return None


def _command(data_dir: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_API_URL", "PREFECT_HOME"))}
    env.update(PYTHONPATH=str(ROOT), SHOPGUARD_PREFECT_IDLE_SECONDS=str(IDLE_S))
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(command: subprocess.Popen) -> None:
    out, err = command.communicate(timeout=300)
    assert command.returncode == 0, err


def _servers_of(prefect_home: Path) -> list[psutil.Process]:
    """Every temporary Prefect API serving this PREFECT_HOME (whoever started it)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            if "infra.ephemeral_prefect:create_ephemeral_app" in " ".join(process.info["cmdline"] or []) \
                    and (process.info["environ"] or {}).get("PREFECT_HOME") == str(prefect_home):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _recorded_server(prefect_home: Path) -> psutil.Process:
    record = json.loads((prefect_home / "ephemeral-server.json").read_text())
    return psutil.Process(record["pid"])


@pytest.mark.slow
def test_later_and_concurrent_commands_reuse_the_running_server_which_stops_when_idle(tmp_path):
    data = tmp_path / "data"
    home = data / "prefect"
    _finish(_command(data, "generate", "--start", "2026-01-01", "--days", "2", "--users", "60"))
    first = _recorded_server(home)
    assert first.is_running(), "the server stopped right after its command instead of waiting the idle time"
    # two at once: both find the first server (start-up takes turns under a lock), none starts another
    both = [_command(data, "validate", "--date", day) for day in ("2026-01-01", "2026-01-02")]
    for command in both:
        _finish(command)
    assert [server.pid for server in _servers_of(home)] == [first.pid]
    gone, alive = psutil.wait_procs([first], timeout=IDLE_S + 20)
    assert not alive, "the shared server did not stop once its commands were done"
    assert not (home / "ephemeral-server.json").exists()
    _finish(_command(data, "validate", "--date", "2026-01-01"))  # a later command starts a new one
    assert _recorded_server(home).pid != first.pid


@pytest.mark.slow
def test_kill_9_of_a_command_leaves_no_prefect_server_beyond_the_idle_time(tmp_path):
    home = tmp_path / "data" / "prefect"
    command = _command(tmp_path / "data", "generate", "--start", "2026-01-01", "--days", "1", "--users", "50")
    try:
        servers = _wait_for(lambda: _servers_of(home), timeout_s=60)
        assert servers, "the command never started a temporary Prefect API"
        os.kill(command.pid, signal.SIGKILL)
        command.wait(timeout=10)
        gone, alive = psutil.wait_procs(servers, timeout=IDLE_S + 20)
        assert not alive, f"temporary Prefect API still running after kill -9 of its only command: {alive}"
    finally:
        if command.poll() is None:
            command.kill()
