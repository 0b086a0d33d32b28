"""Streaming a day's part files so a reader sees the whole new day or the whole old one."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.parquet_io import staged_directory


class PartitionWriter:
    """Write ``part-NNNNN.parquet`` files into a hidden temp folder; swap it in on success.

    A rerun replaces the partition (never adds to it); a failure leaves the old one untouched.
    """

    def __init__(self, directory: Path, schema: pa.Schema):
        self.directory = Path(directory)
        self.schema = schema
        self.parts = 0
        self._stage = staged_directory(self.directory)

    def __enter__(self) -> PartitionWriter:
        self._tmp = self._stage.__enter__()
        return self

    def write(self, table: pa.Table) -> None:
        pq.write_table(table.cast(self.schema), self._tmp / f"part-{self.parts:05d}.parquet", compression="zstd")
        self.parts += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and self.parts == 0:  # keep the partition readable (and its schema known) on an empty day
            try:
                self.write(self.schema.empty_table())
            except BaseException as error:
                self._stage.__exit__(type(error), error, error.__traceback__)
                raise
        self._stage.__exit__(exc_type, exc, tb)  # swaps the folder in on success, discards it on failure
