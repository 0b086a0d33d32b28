"""Writing a day's split: validated/date=D and quarantine/date=D, both or neither.

Both partitions are staged in temp folders first (the slow part); only then are they swapped in
with renames, so a crash leaves the previous outputs of the day intact, never half of a new pair.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.parquet_io import replace_dir_atomic

PART = "part-0.parquet"
REASON_COLUMN = "reason"


def split_rows(table: pa.Table, reasons: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """(validated rows, quarantined rows + ``reason``); together they are exactly the input rows."""
    clean = reasons == ""
    validated = table.filter(pa.array(clean))
    quarantined = table.filter(pa.array(~clean)).append_column(
        pa.field(REASON_COLUMN, pa.string()), pa.array(reasons[~clean].astype(str), pa.string()))
    return validated, quarantined


def write_split(validated: pa.Table, quarantined: pa.Table, validated_dir: Path, quarantine_dir: Path) -> None:
    staged: list[tuple[Path, Path]] = []
    try:
        for table, target in ((validated, validated_dir), (quarantined, quarantine_dir)):
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
            temp.mkdir()
            staged.append((temp, target))
            pq.write_table(table, temp / PART, compression="zstd")
        for temp, target in staged:
            replace_dir_atomic(temp, target)
    finally:
        for temp, _ in staged:
            shutil.rmtree(temp, ignore_errors=True)
