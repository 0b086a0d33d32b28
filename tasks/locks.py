"""Kernel file locks (flock) that serialise commands sharing one data root.

The kernel drops a flock when its process dies, so a crash (even kill -9) never leaves a lock
that blocks the next run; the small lock files themselves stay and are reused.

- ``stage_lock(layout, "validate", day)``: one command per (stage, day); a second one is refused
  at once with one line naming the holder's pid.
- ``shared_lock(layout, "gx")``: scratch state that every day shares (the GX project, the feature
  summaries cache); other days wait their turn, for at most ``wait_seconds``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from tasks.errors import ShopguardError
from tasks.layout import DataLayout
from tasks.parquet_io import raise_if_disk_full

POLL_SECONDS = 0.1
DEFAULT_WAIT_SECONDS = 600.0


class StageBusy(ShopguardError):
    """Another command holds the lock this one needs."""


def stage_lock(layout: DataLayout, stage: str, day: date):
    """Refuse (one line) a second ``stage`` command for ``day`` while one runs in this data root."""
    return _flock(layout.locks / f"{stage}-{day.isoformat()}.lock",
                  f"{stage} for {day} is already running", wait_seconds=0.0)


def shared_lock(layout: DataLayout, name: str, wait_seconds: float = DEFAULT_WAIT_SECONDS):
    """Take turns on scratch state every day shares; one line if it stays busy for ``wait_seconds``."""
    return _flock(layout.locks / f"{name}.lock", f"{name} stayed busy for {wait_seconds:.0f} s",
                  wait_seconds=wait_seconds)


@contextmanager
def _flock(path: Path, busy: str, wait_seconds: float) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise_if_disk_full(exc, path)
        raise
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StageBusy(f"{busy} (pid {_holder(path)}, lock {path}); wait for it to finish") from None
                time.sleep(POLL_SECONDS)
        with contextlib.suppress(OSError):  # the holder's pid is only for the busy message
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except OSError:
        return "unknown"
