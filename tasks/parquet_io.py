"""Parquet IO at the edges: atomic partition writes and column-pruned reads."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.errors import DataMissingError


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


@contextmanager
def staged_directory(directory: Path) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``directory`` to fill; on success it replaces ``directory``.

    A rerun therefore replaces the folder rather than adding to it, and a failure (or a crash)
    leaves the old folder intact and no temp folder behind.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".tmp-{directory.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        replace_dir_atomic(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir_atomic(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, replacing any existing ``dst`` with two renames."""
    old = dst.parent / f".old-{dst.name}-{uuid.uuid4().hex[:8]}"
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def parquet_files(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).glob("*.parquet") if not p.name.startswith("."))


def read_partition(directory: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read every part file of one partition folder; a clear error when there is none."""
    files = parquet_files(directory)
    if not files:
        raise DataMissingError(f"no Parquet files in {directory}")
    return pq.ParquetDataset(files, partitioning=None).read(columns=list(columns) if columns else None).to_pandas()

