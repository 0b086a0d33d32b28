"""The users table's suite, run once per content: every day reads the same raw/users/users.parquet.

A day's validation stops unless the table passes. A pass is recorded (state/users-passed.json)
with the file's sha256 and the suite's expectations; a later day with the same file and suite
skips the two GX runs (about 2 s of every validate), and any change to either runs them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path

import pyarrow as pa

from tasks.errors import ValidationStopped
from tasks.layout import DataLayout
from tasks.validation.frames import to_validation_frame
from tasks.validation.gx_project import run_suite
from tasks.validation.outcome import read_outcome
from tasks.validation.schema import check_schemas
from tasks.validation.suites import SuiteSpec, load_suite

log = logging.getLogger(__name__)


def _fingerprint(path: Path, spec: SuiteSpec) -> dict[str, str]:
    with open(path, "rb") as handle:
        content = hashlib.file_digest(handle, "sha256").hexdigest()
    suite = hashlib.sha256(json.dumps(spec.expectations, sort_keys=True, default=str).encode()).hexdigest()
    return {"users_sha256": content, "suite_sha256": suite}


def _record(layout: DataLayout) -> Path:
    return layout.state / "users-passed.json"


def _passed_before(layout: DataLayout, fingerprint: dict[str, str]) -> bool:
    try:
        return json.loads(_record(layout).read_text()) == fingerprint
    except (OSError, ValueError):
        return False


def check_users(context, layout: DataLayout, users: pa.Table, day: date) -> None:
    """Stop the day (ValidationStopped) unless the users table passes the users suite (all batch-level)."""
    spec = load_suite("users")
    fingerprint = _fingerprint(layout.users, spec)
    if _passed_before(layout, fingerprint):
        log.debug("users table unchanged since it passed the users suite; not validated again for %s", day)
        return
    try:
        check_schemas(context, spec, [(Path("users.parquet"), users)], run_name=day.isoformat())
    except ValidationStopped as stop:
        raise ValidationStopped(f"users table: {stop}") from None
    frame = to_validation_frame(users)
    run = run_suite(context, spec, frame, {}, run_name=day.isoformat())
    outcome = read_outcome(run.result, frame)
    if outcome.batch_failures:
        raise ValidationStopped("users table: " + "; ".join(str(f) for f in outcome.batch_failures))
    record = _record(layout)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(fingerprint))
    tmp.replace(record)
