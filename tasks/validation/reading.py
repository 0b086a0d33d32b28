"""Reading a batch with the checks that must pass before Great Expectations can run at all.

Missing, unreadable or empty input stops the day here, file by file, so the message names the
part file at fault. Whether a file's columns and types match the suite is Great Expectations'
call (tasks/validation/schema.py), not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.errors import ValidationStopped, first_line
from tasks.parquet_io import parquet_files
from tasks.validation.outcome import describe_dtype
from tasks.validation.suites import SuiteSpec


def read_partition(directory: Path) -> list[tuple[Path, pa.Table]]:
    """Every part file of a partition, read (schemas not yet compared with anything)."""
    if not directory.is_dir():
        raise ValidationStopped(f"no input: partition {directory} does not exist")
    files = parquet_files(directory)
    if not files:
        raise ValidationStopped(f"no input: partition {directory} holds no Parquet files")
    return [(f, read_file(f)) for f in files]


def concat_parts(parts: Sequence[tuple[Path, pa.Table]], directory: Path) -> pa.Table:
    """The part files as one table; call after their schemas passed (types are then equal file by file,
    and "permissive" only reconciles nullability flags)."""
    return _non_empty(pa.concat_tables([t for _, t in parts], promote_options="permissive"), directory)


def with_optional_columns(table: pa.Table, spec: SuiteSpec) -> pa.Table:
    """Append the suite's optional columns the batch lacks, all null, so Great Expectations sees the full set."""
    for column, alias in spec.optional_columns().items():
        if column not in table.column_names:
            table = table.append_column(pa.field(column, pa.type_for_alias(alias)),
                                        pa.nulls(table.num_rows, pa.type_for_alias(alias)))
    return table


def read_file(path: Path) -> pa.Table:
    """One Parquet file, stopped with a one-line reason if missing or unreadable."""
    if not path.is_file():
        raise ValidationStopped(f"no input: {path} does not exist")
    try:
        # Writer metadata (e.g. pandas') is not part of the contract and must not travel downstream.
        return pq.read_table(path).replace_schema_metadata(None)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationStopped(f"unreadable Parquet {path.name}: {first_line(exc)}") from None


def _non_empty(table: pa.Table, where: Path) -> pa.Table:
    if table.num_rows == 0:
        raise ValidationStopped(f"empty input: {where} has 0 rows")
    return table


def dtype_problems(actual: Mapping[str, str], spec: SuiteSpec) -> list[str]:
    """The suite's column-set and type expectations against ``column -> dtype name``.

    For the feature table's in-memory frame (tasks/validation/feature_suite.py), worded like GX's
    failures; raw files are checked by GX itself (tasks/validation/schema.py).
    """
    expected_columns = spec.column_set()
    optional = spec.optional_columns()
    missing = [c for c in expected_columns if c not in actual and c not in optional]
    extra = [c for c in actual if c not in expected_columns]
    problems: list[str] = []
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"extra {', '.join(extra)}"] if extra else [])
        problems.append(f"expect_table_columns_to_match_set: {'; '.join(parts)}")
    for column, expected in spec.column_types().items():
        if column in actual and actual[column] != expected:
            problems.append(f"expect_column_type_to_be({column}): observed {describe_dtype(actual[column])}, "
                            f"expected {expected}")
    return problems




def row_count(files: Sequence[Path]) -> int:
    """Rows in Parquet files, from their footers (no data pages read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
