"""A batch's columns and types, checked by Great Expectations before any row is.

The suite's own schema expectations (``expect_table_columns_to_match_set``,
``expect_column_type_to_be``) run on a zero-row frame of each distinct file schema, so a broken
file stops the day naming the part file, in the same words as every other GX failure
(tasks/validation/outcome.py), before the files are concatenated or their rows looked at. The
contract is written once (the suite JSON) and checked once (by GX), and a schema that passed
once is remembered, so an ordinary day does not pay a GX run for it again.
"""

from __future__ import annotations

import hashlib
import json
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
MAX_REMEMBERED = 32  # passing schemas kept (the suites' and any older feeds')


def schema_spec(spec: SuiteSpec) -> SuiteSpec:
    """Only the suite's schema expectations, under a name of its own (its own GX checkpoint)."""
    kept = tuple(e for e in spec.expectations if e["type"] in SCHEMA_CHECKS)
    return SuiteSpec(f"{spec.name}_schema", spec.version, kept, spec.meta)


def _fingerprint(checks: SuiteSpec, schema: pa.Schema) -> str:
    """The suite's schema expectations and the Arrow schema (names, types, zones; no metadata)."""
    text = json.dumps(checks.expectations, sort_keys=True, default=str) + "\n" + schema.remove_metadata().to_string()
    return hashlib.sha256(text.encode()).hexdigest()


def _passed(record: Path | None) -> list[str]:
    try:
        return list(json.loads(record.read_text())) if record else []
    except (OSError, ValueError, TypeError):
        return []


def check_schemas(context, spec: SuiteSpec, parts: Sequence[tuple[Path, pa.Table]], run_name: str,
                  passed_record: Path | None = None) -> None:
    """Stop (ValidationStopped, one line naming the file) at the first part whose schema fails the suite.

    With ``passed_record`` (a JSON list of fingerprints, written atomically; the caller holds the
    GX project lock) a schema that passed these very checks before is not sent through GX again:
    most days repeat yesterday's schema, and each GX run costs about a second.
    """
    checks = schema_spec(spec)
    known = _passed(passed_record)
    passed: list[pa.Schema] = []
    for path, table in parts:
        if any(table.schema.equals(s) for s in passed):
            continue  # the usual case: every part file of a day has the same schema
        empty = with_optional_columns(table.schema.empty_table(), spec)
        fingerprint = _fingerprint(checks, empty.schema)
        if fingerprint not in known:
            frame = to_validation_frame(empty)
            run = run_suite(context, checks, frame, {}, run_name=run_name, data_docs=False)
            failures = read_outcome(run.result, frame).batch_failures
            if any(f.label == COLUMN_SET_CHECK for f in failures):
                # a missing column's type check cannot be evaluated: the column set says it all
                failures = [f for f in failures if f.label == COLUMN_SET_CHECK]
            if failures:
                raise ValidationStopped(f"{'; '.join(map(str, failures))} (in {path.name})")
            known = [*known, fingerprint][-MAX_REMEMBERED:]
        passed.append(table.schema)
    if passed_record and known != _passed(passed_record):
        passed_record.parent.mkdir(parents=True, exist_ok=True)
        tmp = passed_record.with_suffix(".tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(passed_record)
