"""Exclusive file locks a crash cannot leave behind.

``flock`` locks belong to the open file: the kernel drops them when the holder exits, however it
dies (kill -9 included), so a stale lock never blocks the next run. The lock file itself stays
and is harmless.

Two uses keep concurrent commands on one data root apart:
- ``stage_lock(layout, "validate", day)``: one command per (stage, day); a second one is refused
  at once with one line.
- ``shared_lock(layout, "gx-project")``: scratch state every day shares (the GX project, the
  feature summaries cache); other days wait their turn.
"""

from __future__ import annotations

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

_POLL_SECONDS = 0.2
SHARED_WAIT_SECONDS = 600.0


class LockBusy(ShopguardError):
    """Someone else held the lock for longer than we were willing to wait."""


@contextmanager
def file_lock(path: Path, wait_seconds: float, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; after ``wait_seconds`` raise LockBusy("{busy} ...")."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
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
                    raise LockBusy(f"{busy} (waited {wait_seconds:g} s for {path}); try again when it ends") from None
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def stage_lock(layout: DataLayout, stage: str, day: date):
    """Refuse (one line) a second ``stage`` command for ``day`` while one runs in this data root."""
    return file_lock(layout.locks / f"{stage}-{day.isoformat()}.lock", wait_seconds=0,
                     busy=f"{stage} for {day} is already running")


def shared_lock(layout: DataLayout, name: str, wait_seconds: float = SHARED_WAIT_SECONDS):
    """Take turns on scratch state every day shares; one line if it stays busy for ``wait_seconds``."""
    return file_lock(layout.locks / f"{name}.lock", wait_seconds=wait_seconds, busy=f"{name} is busy")
