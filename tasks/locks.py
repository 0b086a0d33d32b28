"""Exclusive file locks a crash cannot leave behind.

``flock`` locks belong to the open file: the kernel drops them when the holder exits, however it
dies (kill -9 included), so a stale lock never blocks the next run. The lock file itself stays
and is harmless.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.errors import ShopguardError

_POLL_SECONDS = 0.2


class LockBusy(ShopguardError):
    """Someone else held the lock for longer than we were willing to wait."""


@contextmanager
def file_lock(path: Path, wait_seconds: float, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; after ``wait_seconds`` raise LockBusy("{busy} ...")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
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
