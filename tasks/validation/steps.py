"""Thin Prefect tasks over the validation helpers (the flow in flows/validate.py sequences them)."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tasks.layout import DataLayout
from tasks.run_status import update_day_status
from tasks.settings import ValidationSettings
from tasks.validation.day import validate_day
from tasks.validation.summary import ValidationSummary, summary_markdown


@task(name="validate-day", cache_policy=NO_CACHE)
def validate_day_task(layout: DataLayout, day: date, limits: ValidationSettings) -> ValidationSummary:
    return validate_day(layout, day, limits)


@task(name="record-validation-status", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def record_validation_task(layout: DataLayout, summary: ValidationSummary) -> None:
    update_day_status(layout, summary.day, "validation", summary.status_payload())


@task(name="publish-validation-artifact", cache_policy=NO_CACHE)
def publish_validation_artifact_task(summary: ValidationSummary) -> None:
    create_markdown_artifact(markdown=summary_markdown(summary), key=f"validation-{summary.day.isoformat()}",
                             description=summary.one_line())
