"""Validating one day: users table, then raw events -> validated/ + quarantine/, or a stop.

Every stop is a ``ValidationStopped`` with a one-line reason; ``validate_day`` turns it into a
stopped ``ValidationSummary`` (with whatever counts were known) instead of raising, so the
caller can record and publish it before failing the run. A stopped day writes no data, only
its volume record (state/volume/, see volume.py), so a new traffic level is not forgotten.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tasks.errors import ValidationStopped
from tasks.layout import DataLayout
from tasks.locks import shared_lock, stage_lock
from tasks.parquet_io import raise_if_disk_full
from tasks.settings import ValidationSettings
from tasks.validation.arrow_rows import arrow_row_failures
from tasks.validation.frames import to_row_check_frame
from tasks.validation.gx_project import open_project, run_suite
from tasks.validation.identifiers import identifier_rows
from tasks.validation.outcome import SuiteOutcome, read_outcome, reason_counts, row_reasons
from tasks.validation.outputs import split_rows, write_split
from tasks.validation.reading import (
    concat_parts,
    read_file,
    read_partition,
    with_optional_columns,
)
from tasks.validation.schema import SCHEMA_CHECKS, check_schemas
from tasks.validation.suites import load_suite
from tasks.validation.summary import ValidationSummary
from tasks.validation.users import check_users
from tasks.validation.volume import (
    DayVolume,
    VolumeBand,
    day_band,
    new_level_hint,
    record_day_volume,
)

log = logging.getLogger(__name__)

ROW_COUNT_CHECK = "expect_table_row_count_to_be_between"


def validate_day(layout: DataLayout, day: date, limits: ValidationSettings) -> ValidationSummary:
    """Validate the users table and ``day``'s raw events; write the split unless the day stops.

    A second validation of the same day in this data root is refused (LockBusy); other days
    run concurrently and take turns only on the shared GX scratch project.
    """
    with stage_lock(layout, "validate", day):
        try:
            return _validate_day(layout, day, limits)
        except OSError as exc:  # GX's own project and Data Docs writes, too
            raise_if_disk_full(exc, layout.root)
            raise


def _validate_day(layout: DataLayout, day: date, limits: ValidationSettings) -> ValidationSummary:
    events_spec = load_suite("raw_events")
    summary = ValidationSummary(day=day, suite_version=events_spec.version)
    try:
        # Readability first (a missing or corrupt file stops the day before GX starts), then each
        # distinct file schema through GX's own schema checks, then the rows.
        parts = read_partition(layout.raw_events(day))
        users = read_file(layout.users)
        with shared_lock(layout, "gx-project"):  # GX's own files (data/gx/) and Data Docs are shared
            context = open_project(layout.root, layout.data_docs)
            check_schemas(context, events_spec, parts, run_name=day.isoformat(),
                          passed_record=layout.state / "schemas-passed.json")
            table = concat_parts(parts, layout.raw_events(day))
            summary.rows_in = table.num_rows
            band = day_band(layout, day, table.num_rows, limits)
            record_day_volume(layout, day, DayVolume(table.num_rows, band is None or band.holds(table.num_rows)))
            summary.volume_check = band.describe() if band else "skipped: no trailing days to compare with"
            # the schema was checked per file above; GX runs the rest except what pyarrow runs
            gx_spec, arrow_spec = events_spec.without([*SCHEMA_CHECKS, *([] if band else [ROW_COUNT_CHECK])]) \
                .split_by_engine()
            # only the columns GX's expectations name: it copies the frame's rows for each conditional metric
            frame = to_row_check_frame(with_optional_columns(table, events_spec).select(gx_spec.columns_used()))
            check_users(context, layout, users, day)
            run = run_suite(context, gx_spec, frame, event_parameters(day, limits, band), run_name=day.isoformat())
        summary.data_docs = str(run.docs_page) if run.docs_page else None
        outcome = read_outcome(run.result, frame)
        outcome = SuiteOutcome(outcome.batch_failures, {**outcome.row_failures, **arrow_row_failures(arrow_spec, table),
                                                        **identifier_rows(table)})
        summary.failed_expectations = outcome.failed_expectations
        reasons = row_reasons(outcome, table.num_rows)
        summary.quarantine_reasons = reason_counts(reasons)
        stop_on_batch_failures(outcome, band, new_level_hint(day))
        validated, quarantined = split_rows(table, reasons)
        stop_on_bad_share(quarantined.num_rows, table.num_rows, limits.max_bad_row_share, summary.quarantine_reasons)
        write_split(validated, quarantined, layout.validated(day), layout.quarantine(day))
        summary.rows_validated, summary.rows_quarantined = validated.num_rows, quarantined.num_rows
    except ValidationStopped as stop:
        summary.stopped, summary.reason = True, str(stop)
        log.warning("validation stopped for %s: %s", day, stop)
        return summary
    log.info(summary.one_line())
    return summary


def event_parameters(day: date, limits: ValidationSettings, band: VolumeBand | None) -> dict[str, Any]:
    """Values for the raw-events suite's ``$PARAMETER`` placeholders."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    parameters: dict[str, Any] = {
        "day_start": start,
        "day_end": start + timedelta(days=1),
        "min_unique_share": 1.0 - limits.max_duplicate_share,
    }
    if band:
        parameters |= {"min_rows": band.min_rows, "max_rows": band.max_rows}
    return parameters


def stop_on_batch_failures(outcome: SuiteOutcome, band: VolumeBand | None, volume_hint: str) -> None:
    lines = []
    for failure in outcome.batch_failures:
        line = str(failure)
        if failure.label == ROW_COUNT_CHECK and band:  # the numbers behind the band, and what to do
            line += f" rows (median {band.median:.0f} of {band.days} trailing days); {volume_hint}"
        lines.append(line)
    if lines:
        raise ValidationStopped("; ".join(lines))


def stop_on_bad_share(bad_rows: int, rows: int, max_share: float, reasons: dict[str, int]) -> None:
    if rows and bad_rows / rows > max_share:
        top = ", ".join(f"{label} {n}" for label, n in list(reasons.items())[:3])
        raise ValidationStopped(
            f"bad-row share {bad_rows / rows:.1%} ({bad_rows} of {rows} rows) exceeds max_bad_row_share "
            f"{max_share:.1%}; top reasons: {top}")
