"""Reading a batch with the checks that must pass before Great Expectations can run at all.

Missing, unreadable or empty input and a schema that differs from the suite's column set and
types stop the day here, file by file, so the message names the part file at fault. The column
set and types come from the suite itself (``SuiteSpec.column_set`` / ``column_types``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.errors import ValidationStopped, first_line
from tasks.parquet_io import parquet_files
from tasks.validation.frames import frame_dtype_names
from tasks.validation.suites import SuiteSpec


def read_partition_checked(directory: Path, spec: SuiteSpec) -> pa.Table:
    """Every part file of a partition, each checked against the suite's schema, as one table."""
    if not directory.is_dir():
        raise ValidationStopped(f"no input: partition {directory} does not exist")
    files = parquet_files(directory)
    if not files:
        raise ValidationStopped(f"no input: partition {directory} holds no Parquet files")
    # Types are already equal file by file; "permissive" only reconciles nullability flags.
    tables = [read_file_checked(f, spec) for f in files]
    return _non_empty(pa.concat_tables(tables, promote_options="permissive"), directory)


def with_optional_columns(table: pa.Table, spec: SuiteSpec) -> pa.Table:
    """Append the suite's optional columns the batch lacks, all null, so Great Expectations sees the full set."""
    for column, alias in spec.optional_columns().items():
        if column not in table.column_names:
            table = table.append_column(pa.field(column, pa.type_for_alias(alias)),
                                        pa.nulls(table.num_rows, pa.type_for_alias(alias)))
    return table


def read_file_checked(path: Path, spec: SuiteSpec) -> pa.Table:
    """One Parquet file, stopped with a one-line reason if unreadable or off-schema."""
    if not path.is_file():
        raise ValidationStopped(f"no input: {path} does not exist")
    try:
        # Writer metadata (e.g. pandas') is not part of the contract and must not travel downstream.
        table = pq.read_table(path).replace_schema_metadata(None)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationStopped(f"unreadable Parquet {path.name}: {first_line(exc)}") from None
    problems = schema_problems(table.schema, spec)
    if problems:
        raise ValidationStopped(f"{'; '.join(problems)} (in {path.name})")
    return table


def _non_empty(table: pa.Table, where: Path) -> pa.Table:
    if table.num_rows == 0:
        raise ValidationStopped(f"empty input: {where} has 0 rows")
    return table


def schema_problems(schema: pa.Schema, spec: SuiteSpec) -> list[str]:
    """One phrase per violated schema expectation of ``spec`` (empty when the schema conforms)."""
    return dtype_problems(frame_dtype_names(schema), spec)


def dtype_problems(actual: Mapping[str, str], spec: SuiteSpec) -> list[str]:
    """The suite's column-set and type expectations against ``column -> dtype name``."""
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
            problems.append(f"expect_column_type_to_be({column}): observed {_describe_dtype(actual[column])}, "
                            f"expected {expected}")
    return problems


def _describe_dtype(name: str) -> str:
    """Dtype names, plus the hint on-call needs most often (a timestamp without a zone)."""
    if name.startswith("datetime64[") and "," not in name:
        return f"{name} (naive, no time zone)"
    return name


def row_count(files: Sequence[Path]) -> int:
    """Rows in Parquet files, from their footers (no data pages read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
