"""Writing a day's split: validated/date=D and quarantine/date=D, as one checkable pair.

Both partitions are staged in temp folders first (the slow part), then swapped in with renames:
quarantine first, validated last. The two folders cannot be renamed in one step, so both files
carry the same batch id in their Parquet metadata; a crash between the two renames leaves a
mismatched pair, which ``check_split_complete`` refuses before anything downstream reads it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.errors import ShopguardError
from tasks.parquet_io import staged_directory

PART = "part-0.parquet"
REASON_COLUMN = "reason"
BATCH_KEY = b"shopguard.validation_batch"


class IncompleteValidation(ShopguardError):
    """validated/ and quarantine/ of a day come from different validation runs."""


def split_rows(table: pa.Table, reasons: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """(validated rows, quarantined rows + ``reason``); together they are exactly the input rows."""
    clean = reasons == ""
    validated = table.filter(pa.array(clean))
    quarantined = table.filter(pa.array(~clean)).append_column(
        pa.field(REASON_COLUMN, pa.string()), pa.array(reasons[~clean].astype(str), pa.string()))
    return validated, quarantined


def _stamped(table: pa.Table, batch: str) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), BATCH_KEY: batch.encode()})


def write_split(validated: pa.Table, quarantined: pa.Table, validated_dir: Path, quarantine_dir: Path) -> None:
    batch = uuid.uuid4().hex
    # Both are written before either is swapped in. The inner stage swaps first, so validated/
    # (what downstream reads) only appears once quarantine/ is in place.
    with staged_directory(validated_dir) as validated_tmp, staged_directory(quarantine_dir) as quarantine_tmp:
        pq.write_table(_stamped(validated, batch), validated_tmp / PART, compression="zstd")
        pq.write_table(_stamped(quarantined, batch), quarantine_tmp / PART, compression="zstd")


def _batch_of(directory: Path) -> str | None:
    path = directory / PART
    if not path.exists():
        return None
    metadata = pq.read_schema(path).metadata or {}
    return metadata.get(BATCH_KEY, b"").decode() or None


def check_split_complete(validated_dir: Path, quarantine_dir: Path) -> None:
    """Raise IncompleteValidation when the day's validated and quarantine files are not one pair."""
    validated, quarantined = _batch_of(validated_dir), _batch_of(quarantine_dir)
    if validated != quarantined:
        raise IncompleteValidation(
            f"{validated_dir.name}: validated/ and quarantine/ come from different validation runs "
            "(an interrupted write?); rerun `shopguard validate` for that day")
