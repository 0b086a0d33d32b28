"""A private Prefect API for one command, started early so it boots while the command imports.

Without ``PREFECT_API_URL`` Prefect starts a temporary server itself, but only at the first flow
call, after the command has paid for its imports, and its client first imports the whole server
package (about 4 s) just to launch it. Starting the same server (``create_app(ephemeral=True)``:
API only, no UI, no background services) as a subprocess before anything heavy is imported lets
the two overlap on separate cores; the command then talks to it through ``PREFECT_API_URL``.
Runs land in the same database (PREFECT_HOME inside the data root) either way.

    python -m uvicorn --factory infra.ephemeral_prefect:create_ephemeral_app   # what runs
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.servers import HOST, STARTUP_TIMEOUT_S, wait_healthy
from tasks.errors import DiskFull

STOP_TIMEOUT_S = 5.0
# An empty Prefect database is about 1.5 MB: without that much room the server hangs in sqlite
# until the start-up time-out, which then reads like a Prefect problem.
SPACE_NEEDED_BYTES = 4 << 20
TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"  # Prefect's own knob, honoured here
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM when the command dies, even by kill -9.

    Without it a killed command leaves its private server running forever. The standard library
    has no wrapper for prctl, hence ctypes; on a system without prctl the server is stopped by
    :meth:`EphemeralPrefect.stop` only.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def create_ephemeral_app() -> Any:
    """The uvicorn factory: Prefect's API app in its ephemeral form (no UI, no services)."""
    from prefect.server.api.server import create_app

    return create_app(ephemeral=True, final=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class EphemeralPrefect:
    """Start with :meth:`start` (returns at once), :meth:`wait_ready` before the first flow, :meth:`stop`.

    The database is PREFECT_HOME/prefect.db under ``prefect_home``, as for Prefect's own server.
    """

    def __init__(self, prefect_home: Path):
        self.prefect_home = prefect_home
        self.port = _free_port()
        self.api_url = f"http://{HOST}:{self.port}/api"
        self.log_path = prefect_home / "ephemeral-server.log"
        self._process: subprocess.Popen | None = None

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

    def start(self) -> None:
        try:
            self.prefect_home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._disk_full() from None
            raise
        self._check_space()
        project_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PREFECT_HOME": str(self.prefect_home), "PREFECT_UI_ENABLED": "false",
               "PYTHONPATH": os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")]))}
        env.pop("PREFECT_API_URL", None)
        with open(self.log_path, "wb") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "infra.ephemeral_prefect:create_ephemeral_app",
                 "--host", HOST, "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                preexec_fn=_die_with_parent)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until /health answers; RuntimeError naming the log if the server dies or stalls.

        The wait is ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` when set (as for Prefect's
        own temporary server; slow or busy machines need more), else STARTUP_TIMEOUT_S.
        """
        if timeout_s is None:
            timeout_s = float(os.environ.get(TIMEOUT_SETTING) or STARTUP_TIMEOUT_S)
        if not wait_healthy(f"{self.api_url}/health", timeout_s, self._process, poll_s=0.1):
            if shutil.disk_usage(self.prefect_home).free < SPACE_NEEDED_BYTES:  # filled since the probe
                raise self._disk_full()
            raise RuntimeError(f"the temporary Prefect server did not start within {timeout_s:.0f} s "
                               f"(exit code {self._process.poll() if self._process else None}); see {self.log_path}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
