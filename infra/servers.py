"""Start and stop the local Prefect and MLflow servers (`make up` / `make down`).

    python -m infra.servers up   --data-dir data --prefect-port 4200 --mlflow-port 5000
    python -m infra.servers down --data-dir data

Both servers listen on 127.0.0.1 and keep embedded sqlite stores inside the data root
(data/prefect/prefect.db, data/mlflow/mlflow.db). Each runs in its own session; its pid and log
live in data/servers/, so `down` stops exactly the processes `up` started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 90.0
# `start`/`up` only: on a loaded 2-core machine (load 40) `prefect server start` took over 90 s to
# answer; the poll returns as soon as it does, so the margin costs nothing when all is well.
SERVER_STARTUP_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 15.0


class ServerError(RuntimeError):
    """A server did not start or stop; the message names which and where its log is."""


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    ui_url: str
    hint: str
    # readiness when an HTTP 200 from health_url is not enough (a worker polling its pool)
    check: Callable[[], bool] | None = field(default=None, compare=False)
    log_dir: Path | None = None  # default: the run dir beside the pid files


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def prefect_server(data_dir: Path, port: int) -> Server:
    env = {"PREFECT_HOME": str(data_dir / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_API_URL": f"http://{HOST}:{port}/api"}
    return Server("prefect", [_bin("prefect"), "server", "start", "--host", HOST, "--port", str(port)], env,
                  f"http://{HOST}:{port}/api/health", f"http://{HOST}:{port}",
                  f"export PREFECT_API_URL=http://{HOST}:{port}/api")


def mlflow_server(data_dir: Path, port: int) -> Server:
    store = data_dir / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    command = [_bin("mlflow"), "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
               "--default-artifact-root", str(store / "artifacts"), "--no-serve-artifacts",
               "--host", HOST, "--port", str(port), "--workers", "1"]
    return Server("mlflow", command, {}, f"http://{HOST}:{port}/health", f"http://{HOST}:{port}",
                  f"export MLFLOW_TRACKING_URI=http://{HOST}:{port}")


def _run_dir(data_dir: Path) -> Path:
    return data_dir / "servers"


def _pid_file(data_dir: Path, name: str) -> Path:
    return _run_dir(data_dir) / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:  # reap it if it is our own exited child (e.g. started by `start` in this process)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: `make down` runs in a different process from `make up`
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22); None if gone.

    With the pid it names one process for good: a pid reused after a reboot or a crash gets a
    different start time, so ``down`` never signals a stranger that inherited the number.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after the last ')'
    return int(stat.rsplit(")", 1)[1].split()[19])


def record_pid(path: Path, pid: int) -> None:
    """Write ``pid`` with its start time, atomically (a reader never sees half a record)."""
    record = {"pid": pid, "start_ticks": process_start_ticks(pid)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def recorded_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs; None otherwise.

    A pid file whose process is gone, or whose pid now belongs to another process (start time
    differs), counts as not running; it is left for the caller to remove.
    """
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if isinstance(record, int):  # a bare pid, as an older `make up` wrote: no start time to check
        return record if _alive(record) else None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    pid = record["pid"]
    if not _alive(pid):
        return None
    if process_start_ticks(pid) != record.get("start_ticks"):
        log.warning("pid %d in %s now belongs to another process; not touching it", pid, path)
        return None
    return pid


def running_pid(data_dir: Path, name: str) -> int | None:
    return recorded_pid(_pid_file(data_dir, name))


def url_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check: Callable[[], bool], timeout_s: float = STARTUP_TIMEOUT_S,
               process: subprocess.Popen | None = None, poll_s: float = 0.5) -> bool:
    """Poll ``check`` every ``poll_s`` until it is true, the process exits, or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if check():
            return True
        time.sleep(poll_s)
    return False


def wait_healthy(url: str, timeout_s: float = STARTUP_TIMEOUT_S, process: subprocess.Popen | None = None,
                 poll_s: float = 0.5) -> bool:
    """Poll ``url`` every ``poll_s`` until it answers 200, the process exits, or the timeout passes."""
    return wait_until(lambda: url_ok(url), timeout_s, process, poll_s)


def log_path(server: Server, data_dir: Path) -> Path:
    return (server.log_dir or _run_dir(data_dir)) / f"{server.name}.log"


def launch(server: Server, data_dir: Path) -> subprocess.Popen | None:
    """Start ``server`` in its own session unless it already runs (None then); does not wait."""
    if running_pid(data_dir, server.name):
        log.info("%s already running (%s)", server.name, server.ui_url)
        return None
    _run_dir(data_dir).mkdir(parents=True, exist_ok=True)
    path = log_path(server, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log_file:
        process = subprocess.Popen(server.command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **server.env}, start_new_session=True)
    record_pid(_pid_file(data_dir, server.name), process.pid)
    return process


def await_ready(server: Server, data_dir: Path, process: subprocess.Popen | None,
                timeout_s: float = SERVER_STARTUP_TIMEOUT_S) -> None:
    """Wait until ``server`` is healthy; otherwise stop it and raise one line naming it and its log."""
    check = server.check or (lambda: url_ok(server.health_url))
    if not wait_until(check, timeout_s, process=process):
        stop(server.name, data_dir)
        raise ServerError(f"{server.name} did not become healthy at {server.health_url}; "
                          f"see {log_path(server, data_dir)}")


def start(server: Server, data_dir: Path) -> subprocess.Popen | None:
    """Start ``server`` in its own session unless it already runs; wait until it is healthy."""
    process = launch(server, data_dir)
    await_ready(server, data_dir, process)
    return process


def stop(name: str, data_dir: Path) -> bool:
    """Stop the process group ``up`` started for ``name``; False when it was not running."""
    return stop_recorded(_pid_file(data_dir, name))


def stop_recorded(pid_file: Path, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the session of the process recorded in ``pid_file`` (SIGKILL after ``timeout_s``).

    Only when the recorded pid is still the recorded process; the pid file goes either way.
    """
    pid = recorded_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    signal_group(pid, signal.SIGTERM)  # the server's own session: it and the workers it spawned
    deadline = time.monotonic() + timeout_s
    while (_alive(pid) or group_alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    # the leader may be gone while workers it spawned linger: the group, not the leader, decides
    signal_group(pid, signal.SIGKILL)
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(pgid, signum)


def group_alive(pgid: int) -> bool:
    """Any live (not zombie) process left in group ``pgid``. Read from /proc rather than
    ``killpg(pgid, 0)``, which also counts zombies that a non-reaping init may keep forever."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def up(data_dir: Path, prefect_port: int, mlflow_port: int) -> list[Server]:
    servers = [prefect_server(data_dir, prefect_port), mlflow_server(data_dir, mlflow_port)]
    for server in servers:
        start(server, data_dir)
    return servers


def _write(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.servers", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data_dir = args.data_dir.expanduser().resolve()
    if args.action == "down":
        stopped = [name for name in ("prefect", "mlflow") if stop(name, data_dir)]
        _write([f"stopped: {', '.join(stopped)}" if stopped else "no servers were running"])
        return 0
    try:
        servers = up(data_dir, args.prefect_port, args.mlflow_port)
    except ServerError as exc:
        print(f"infra.servers: error: {exc}", file=sys.stderr)
        return 1
    lines = ["servers up (stop with `make down`):"]
    for server in servers:
        lines += [f"  {server.name:<8} {server.ui_url}", f"           {server.hint}"]
    _write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
