"""``shopguard validate --date D``: the data validation gate for one day."""

from __future__ import annotations

from datetime import date

from prefect import flow

from tasks.errors import ValidationStopped
from tasks.layout import DataLayout
from tasks.settings import Settings
from tasks.validation.steps import (
    publish_validation_artifact_task,
    record_validation_task,
    validate_day_task,
)
from tasks.validation.summary import ValidationSummary


@flow(name="validate", flow_run_name="validate {day}")
def validate_flow(day: date, settings: Settings) -> ValidationSummary:
    """Validate ``day``; raise ValidationStopped (after recording it) when the day is stopped."""
    layout = DataLayout(settings.data_dir)
    summary = validate_day_task(layout, day, settings.validation)
    record_validation_task(layout, summary)
    publish_validation_artifact_task(summary)
    if summary.stopped:
        raise ValidationStopped(f"validation stopped {day}: {summary.reason}")
    return summary
