"""Streaming a day's part files so a reader sees the whole new day or the whole old one."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.parquet_io import replace_dir_atomic


class PartitionWriter:
    """Write ``part-NNNNN.parquet`` files into a hidden temp folder; swap it in on success.

    A rerun replaces the partition (never adds to it); a failure leaves the old one untouched.
    """

    def __init__(self, directory: Path, schema: pa.Schema):
        self.directory = Path(directory)
        self.schema = schema
        self.parts = 0
        self._tmp = self.directory.parent / f".tmp-{self.directory.name}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> PartitionWriter:
        self._tmp.mkdir(parents=True)
        return self

    def write(self, table: pa.Table) -> None:
        pq.write_table(table.cast(self.schema), self._tmp / f"part-{self.parts:05d}.parquet", compression="zstd")
        self.parts += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                if self.parts == 0:  # keep the partition readable (and its schema known) on an empty day
                    self.write(self.schema.empty_table())
                replace_dir_atomic(self._tmp, self.directory)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
