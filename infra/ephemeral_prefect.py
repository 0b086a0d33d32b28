"""The temporary Prefect API the commands on one data root share, started early so it boots while
the first command imports.

Without ``PREFECT_API_URL`` Prefect starts a temporary server itself, but only at the first flow
call, after the command has paid for its imports, and its client first imports the whole server
package (about 4 s) just to launch it. Every command would pay that again. Here the same server
(``create_app(ephemeral=True)``: API only, no UI, no background services) runs as a subprocess
that the commands on one PREFECT_HOME share:

- a command holds a shared ``flock`` on ``ephemeral-server.clients`` for as long as it lives (the
  kernel drops it however the command dies, kill -9 included);
- the first command starts the server (before anything heavy is imported, so the two overlap on
  separate cores) and records its pid and URL in ``ephemeral-server.json``; later ones find it
  there and skip the boot;
- the server exits once no command has held the clients lock for ``idle_s`` seconds, or when its
  PREFECT_HOME is removed.

Start-up and shut-down take turns under ``ephemeral-server.start.lock``, so a command never
attaches to a server that is deciding to stop. Runs land in the same database
(PREFECT_HOME/prefect.db) either way.

    python -m uvicorn --factory infra.ephemeral_prefect:create_ephemeral_app   # what runs
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.servers import HOST, STARTUP_TIMEOUT_S, process_start_ticks, recorded_pid, url_ok
from tasks.errors import DiskFull

# An empty Prefect database is about 1.5 MB: without that much room the server hangs in sqlite
# until the start-up time-out, which then reads like a Prefect problem.
SPACE_NEEDED_BYTES = 4 << 20
TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"  # Prefect's own knob, honoured here
IDLE_SETTING = "SHOPGUARD_PREFECT_IDLE_SECONDS"  # Settings.prefect_idle_seconds, handed to the server
RECORD = "ephemeral-server.json"
CLIENTS_LOCK = "ephemeral-server.clients"
START_LOCK = "ephemeral-server.start.lock"
LOG = "ephemeral-server.log"
_IDLE_POLL_S = 0.5


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Short critical sections (start-up, shut-down): the kernel drops the lock if the holder dies."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _unclaimed(clients_fd: int) -> bool:
    """No command holds its shared lock on the clients file (probe with a non-blocking exclusive)."""
    try:
        fcntl.flock(clients_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(clients_fd, fcntl.LOCK_UN)
    return True


def _exit_when_idle(home: Path, idle_s: float) -> None:
    """The server's watchdog thread: SIGTERM itself (uvicorn's graceful stop) once nobody uses it."""
    clients_fd = os.open(home / CLIENTS_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    idle_since = time.monotonic()
    while True:
        time.sleep(_IDLE_POLL_S)
        if not home.is_dir():  # the data root was removed: nobody can reach this database again
            break
        if not _unclaimed(clients_fd):
            idle_since = time.monotonic()
            continue
        if time.monotonic() - idle_since < idle_s:
            continue
        with _exclusive(home / START_LOCK):  # no command is between claiming and reading the record
            if _unclaimed(clients_fd):
                if recorded_pid(home / RECORD) == os.getpid():
                    (home / RECORD).unlink(missing_ok=True)
                break
    os.kill(os.getpid(), signal.SIGTERM)


def create_ephemeral_app() -> Any:
    """The uvicorn factory: Prefect's API app in its ephemeral form (no UI, no services)."""
    from prefect.server.api.server import create_app

    idle_s = os.environ.get(IDLE_SETTING)
    if idle_s:
        home = Path(os.environ["PREFECT_HOME"])
        threading.Thread(target=_exit_when_idle, args=(home, float(idle_s)), daemon=True,
                         name="exit-when-idle").start()
    return create_app(ephemeral=True, final=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a server that died under the command that started it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class SharedPrefectServer:
    """:meth:`attach` (returns at once: finds the data root's server or starts one), then
    :meth:`wait_ready` before the first flow. The claim lasts until :meth:`release` or exit.

    The database is PREFECT_HOME/prefect.db under ``prefect_home``, as for Prefect's own server.
    """

    def __init__(self, prefect_home: Path, idle_s: float):
        self.prefect_home = prefect_home
        self.idle_s = idle_s
        self.log_path = prefect_home / LOG
        self.api_url = ""
        self.pid: int | None = None
        self.started_here = False
        self._claim: int | None = None

    def _disk_full(self) -> DiskFull:
        return DiskFull(f"disk full while writing {self.prefect_home} (the temporary Prefect server's "
                        f"database needs about {SPACE_NEEDED_BYTES >> 20} MB): free space and rerun")

    def _check_space(self) -> None:
        """Write and drop a probe of the database's size: a full disk is one line, not a time-out."""
        probe = self.prefect_home / f".space-probe-{os.getpid()}"
        try:
            with open(probe, "wb") as out:
                out.write(b"\0" * SPACE_NEEDED_BYTES)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._disk_full() from None
            raise
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()

    def attach(self) -> None:
        try:
            self.prefect_home.mkdir(parents=True, exist_ok=True)
            # claimed before looking: a server that sees the claim never decides to stop under us
            self._claim = os.open(self.prefect_home / CLIENTS_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(self._claim, fcntl.LOCK_SH)
            with _exclusive(self.prefect_home / START_LOCK):
                pid = recorded_pid(self.prefect_home / RECORD)
                if pid is not None and _running(pid):
                    self.pid = pid
                    self.api_url = json.loads((self.prefect_home / RECORD).read_text())["api_url"]
                    return
                self._check_space()
                self._spawn()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._disk_full() from None
            raise

    def _spawn(self) -> None:
        port = _free_port()
        project_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PREFECT_HOME": str(self.prefect_home), "PREFECT_UI_ENABLED": "false",
               IDLE_SETTING: str(self.idle_s),
               "PYTHONPATH": os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")]))}
        env.pop("PREFECT_API_URL", None)
        with open(self.log_path, "wb") as log_file:
            # its own session: a Ctrl-C meant for one command does not stop the others' server
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "infra.ephemeral_prefect:create_ephemeral_app",
                 "--host", HOST, "--port", str(port), "--log-level", "error", "--lifespan", "on"],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)
        self.pid, self.api_url, self.started_here = process.pid, f"http://{HOST}:{port}/api", True
        record = {"pid": process.pid, "start_ticks": process_start_ticks(process.pid), "api_url": self.api_url}
        tmp = self.prefect_home / f"{RECORD}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.replace(self.prefect_home / RECORD)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until /health answers; RuntimeError naming the log if the server dies or stalls.

        The wait is ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` when set (as for Prefect's
        own temporary server; slow or busy machines need more), else STARTUP_TIMEOUT_S.
        """
        if timeout_s is None:
            timeout_s = float(os.environ.get(TIMEOUT_SETTING) or STARTUP_TIMEOUT_S)
        deadline = time.monotonic() + timeout_s
        while not url_ok(f"{self.api_url}/health"):
            if self.pid is None or not _running(self.pid) or time.monotonic() > deadline:
                if shutil.disk_usage(self.prefect_home).free < SPACE_NEEDED_BYTES:  # filled since the probe
                    raise self._disk_full()
                state = "stopped" if self.pid is None or not _running(self.pid) else f"did not answer within {timeout_s:.0f} s"
                raise RuntimeError(f"the temporary Prefect server (pid {self.pid}) {state}; see {self.log_path}")
            time.sleep(0.1)

    def release(self) -> None:
        """Drop the claim: the server stops once no command has claimed it for ``idle_s``."""
        if self._claim is not None:
            os.close(self._claim)
            self._claim = None
