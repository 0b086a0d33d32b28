"""Parquet IO at the edges: atomic partition writes and column-pruned reads."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import glob
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.errors import DataMissingError, DiskFull

log = logging.getLogger(__name__)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if ctypes.util.find_library("c") else None
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_partition_atomic(table: pa.Table | pd.DataFrame, directory: Path, filename: str = "part-0.parquet",
                           schema: pa.Schema | None = None) -> Path:
    """Replace ``directory`` with one containing ``filename``; readers never see half a write.

    Writes into a sibling temp folder, then swaps it in with renames, so a rerun replaces the
    partition rather than adding to it and a crash leaves the old partition intact.
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
    elif schema is not None:
        table = table.cast(schema)
    with staged_directory(directory) as tmp:
        pq.write_table(table, tmp / filename, compression="zstd")
    return Path(directory) / filename


# A hidden stage left by a writer that is gone: removed by the next writer of the same folder.
# Writers that are still alive are left alone unless their stage is older than this bound.
STALE_STAGE_SECONDS = 6 * 3600
_STAGE_NAME = re.compile(r"^\.(?:tmp|old)-(?P<target>.+)-(?P<pid>\d+)-[0-9a-f]{8}$")


@contextmanager
def staged_directory(directory: Path) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``directory`` to fill; on success it replaces ``directory``.

    A rerun therefore replaces the folder rather than adding to it, and a failure (or a crash)
    leaves the old folder intact. Concurrent writers of one folder are safe: each fills its own
    stage and the swaps take turns, so the last complete write wins and nothing is mixed.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(directory)
    tmp = directory.parent / _stage_name("tmp", directory.name)
    try:
        tmp.mkdir()
        yield tmp
        replace_dir_atomic(tmp, directory)
    except OSError as exc:
        raise_if_disk_full(exc, directory)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def raise_if_disk_full(exc: OSError, target: Path) -> None:
    """Turn a full disk or quota into a one-line DiskFull (nothing was swapped in)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFull(f"disk full while writing {target}; nothing was replaced: free space and rerun") from exc


def replace_dir_atomic(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, replacing any existing ``dst`` with two renames.

    The renames run under an exclusive flock on the parent folder, so two writers of one
    partition never interleave them (the kernel drops the lock if the process dies).
    """
    old = dst.parent / _stage_name("old", dst.name)
    with _locked(dst.parent):
        if not dst.exists():
            os.replace(src, dst)
            return
        if _exchange(src, dst):  # one atomic step: readers never find the folder missing
            shutil.rmtree(src, ignore_errors=True)
            return
        os.replace(dst, old)
        os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2(RENAME_EXCHANGE); False where unsupported.

    The standard library has no wrapper for renameat2, hence ctypes.
    """
    renameat2 = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def remove_stale_stages(directory: Path, max_age_seconds: float = STALE_STAGE_SECONDS) -> list[Path]:
    """Delete hidden stages (folders or files) of ``directory`` whose writer is dead or older than the bound."""
    directory = Path(directory)
    removed = []
    now = time.time()
    for candidate in directory.parent.glob(f".*-{glob.escape(directory.name)}-*"):
        match = _STAGE_NAME.match(candidate.name)
        if not match or match["target"] != directory.name:
            continue
        try:
            age = now - candidate.lstat().st_mtime
        except FileNotFoundError:
            continue
        if not _process_alive(int(match["pid"])) or age > max_age_seconds:
            if candidate.is_dir():
                shutil.rmtree(candidate, ignore_errors=True)
            else:
                candidate.unlink(missing_ok=True)
            removed.append(candidate)
    if removed:
        log.info("removed %d stale stage folder(s) of %s", len(removed), directory)
    return removed


def _stage_name(kind: str, target: str) -> str:
    return f".{kind}-{target}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def write_text_atomic(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` through a hidden temp file (a dead writer's temp is removed)."""
    path = Path(path)
    tmp = path.parent / _stage_name("tmp", path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_stages(path)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise_if_disk_full(exc, path)
        raise
    return path


def parquet_files(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).glob("*.parquet") if not p.name.startswith("."))


def settled_parquet_files(directory: Path, attempts: int = 3) -> list[Path]:
    """``parquet_files``, listed again after a moment when the folder looks empty.

    A reader that opened the folder just as a writer swapped a new one in lists the old folder,
    which the writer is deleting; a moment later the path names the complete new folder.
    """
    for attempt in range(attempts):
        files = parquet_files(directory)
        if files or not Path(directory).is_dir() and attempt:
            return files
        time.sleep(0.05 * (attempt + 1))
    return files


def read_partition(directory: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read every part file of one partition folder; a clear error when there is none."""
    for attempt in range(3):
        files = settled_parquet_files(directory)
        if not files:
            raise DataMissingError(f"no Parquet files in {directory}")
        try:
            return pq.ParquetDataset(files, partitioning=None).read(
                columns=list(columns) if columns else None).to_pandas()
        except FileNotFoundError:  # swapped out between listing and reading: list again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")

