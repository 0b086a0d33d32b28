"""A batch's columns and types, checked by Great Expectations before any row is.

The suite's own schema expectations (``expect_table_columns_to_match_set``,
``expect_column_type_to_be``) run on a zero-row frame of each distinct file schema, so a broken
file stops the day naming the part file, in the same words as every other GX failure
(tasks/validation/outcome.py), before the files are concatenated or their rows looked at. The
contract is written once (the suite JSON) and checked once (by GX).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from tasks.errors import ValidationStopped
from tasks.validation.frames import to_validation_frame
from tasks.validation.gx_project import run_suite
from tasks.validation.outcome import read_outcome
from tasks.validation.reading import with_optional_columns
from tasks.validation.suites import SuiteSpec

COLUMN_SET_CHECK = "expect_table_columns_to_match_set"
SCHEMA_CHECKS = (COLUMN_SET_CHECK, "expect_column_type_to_be")


def schema_spec(spec: SuiteSpec) -> SuiteSpec:
    """Only the suite's schema expectations, under a name of its own (its own GX checkpoint)."""
    kept = tuple(e for e in spec.expectations if e["type"] in SCHEMA_CHECKS)
    return SuiteSpec(f"{spec.name}_schema", spec.version, kept, spec.meta)


def check_schemas(context, spec: SuiteSpec, parts: Sequence[tuple[Path, pa.Table]], run_name: str) -> None:
    """Stop (ValidationStopped, one line naming the file) at the first part whose schema fails the suite."""
    checks = schema_spec(spec)
    passed: list[pa.Schema] = []
    for path, table in parts:
        if any(table.schema.equals(s) for s in passed):
            continue  # the usual case: every part file of a day has the same schema
        frame = to_validation_frame(with_optional_columns(table.schema.empty_table(), spec))
        run = run_suite(context, checks, frame, {}, run_name=run_name, data_docs=False)
        failures = read_outcome(run.result, frame).batch_failures
        if any(f.label == COLUMN_SET_CHECK for f in failures):
            # a missing column's type check cannot be evaluated: the column set says it all
            failures = [f for f in failures if f.label == COLUMN_SET_CHECK]
        if failures:
            raise ValidationStopped(f"{'; '.join(map(str, failures))} (in {path.name})")
        passed.append(table.schema)
