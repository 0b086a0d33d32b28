"""Security audit: every listener a shopguard command or `make up` starts binds loopback only, and
no machine path or secret-looking string is in a tracked file. Real servers, real sockets (psutil
reads the kernel's socket table of the processes the test started)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from infra.servers import running_pid

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "::1"}

# Spelled in pieces so this file does not match itself.
MACHINE_PATH = re.compile("(?<![\\w.])/(" + "|".join(["ro" + "ot/", "wo" + "rk/", "ho" + "me/[a-z]", "Us" + "ers/[A-Z]"])
                          + ")")
SECRETS = {
    "AWS access key": re.compile("AK" + "IA[0-9A-Z]{16}"),
    "private key": re.compile("-----BEGIN [A-Z ]*PRIV" + "ATE KEY-----"),
    "GitHub token": re.compile("gh" + "[pousr]_[A-Za-z0-9]{30,}"),
    "Slack token": re.compile("xo" + "x[abprs]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile("[a-z+]+://[^/\\s:@'\"]+:[^/\\s@'\"{}$<]{3,}@"),
    "assigned secret": re.compile("(?i)(pass" + "word|secret|api_?key|token)\\s*[:=]\\s*['\"][A-Za-z0-9+/_-]{12,}['\"]"),
}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [ROOT / name for name in names.decode().split("\0") if name]
    assert len(paths) > 50, "git ls-files found almost nothing: wrong root?"
    return [p for p in paths if p.is_file() and b"\0" not in p.read_bytes()[:4096]]


def test_no_machine_path_or_secret_in_tracked_files():
    found = []
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if MACHINE_PATH.search(line):
                found.append(f"{where}: machine path: {line.strip()[:120]}")
            found += [f"{where}: {kind}" for kind, pattern in SECRETS.items() if pattern.search(line)]
    assert not found, "\n".join(found[:20])


def test_the_audit_patterns_catch_what_they_are_for():
    assert MACHINE_PATH.search("see " + "/ro" + "ot/data/mlflow.db") and MACHINE_PATH.search("/ho" + "me/ann/x")
    assert not MACHINE_PATH.search("data/root/x") and not MACHINE_PATH.search("tests/work/x")
    assert SECRETS["password in a URL"].search("postgresql://shop:" + "hunter22@127.0.0.1/db")
    assert not SECRETS["password in a URL"].search("postgresql://postgres@127.0.0.1:5432/db")
    assert not SECRETS["password in a URL"].search("http://127.0.0.1:5000")


def listeners(processes: list[psutil.Process]) -> set[tuple[str, int, int]]:
    """(address, port, pid) of every listening inet socket of ``processes`` and their children."""
    found = set()
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            try:
                connections = member.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            found |= {(c.laddr.ip, c.laddr.port, member.pid) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_command_s_temporary_prefect_api_listens_on_loopback_only(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_HOME", None)  # the data root's own: a fresh root, so this command starts the server
    command = subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(tmp_path / "data"), "generate",
                                "--start", "2026-01-01", "--days", "2", "--users", "200"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = set()
    parent = psutil.Process(command.pid)
    while command.poll() is None:  # sample the tree's sockets for the whole run
        seen |= listeners([parent])
        time.sleep(0.1)
    assert command.returncode == 0, command.stderr.read().strip().splitlines()[-3:]
    assert seen, "the command's temporary Prefect API was never seen listening"
    assert {ip for ip, _, _ in seen} <= LOOPBACK, seen


@pytest.mark.slow
def test_make_up_servers_listen_on_loopback_only(tmp_path):
    data_dir = tmp_path / "data"
    ports = {"prefect": free_port(), "mlflow": free_port()}
    servers = [sys.executable, "-m", "infra.servers"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*servers, "up", "--data-dir", str(data_dir), "--prefect-port", str(ports["prefect"]),
                           "--mlflow-port", str(ports["mlflow"])], env=env, capture_output=True, text=True,
                          timeout=600)
    try:
        assert done.returncode == 0, done.stderr.strip().splitlines()[-3:]
        pids = {name: running_pid(data_dir.resolve(), name) for name in ports}
        assert all(pids.values()), pids
        seen = listeners([psutil.Process(pid) for pid in pids.values()])
        for name, port in ports.items():
            assert any(p == port for _, p, _ in seen), f"{name} not listening on its port {port}: {seen}"
        assert {ip for ip, _, _ in seen} <= LOOPBACK, seen
    finally:
        subprocess.run([*servers, "down", "--data-dir", str(data_dir)], env=env, capture_output=True, timeout=120)
