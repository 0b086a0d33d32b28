"""The one typed record per day (reports/runs/date=D.json) that every stage writes and pages render.

Each stage replaces its own section once (validate, features, scoring, drift, retrain, training,
daily); writes are atomic, so a crash never leaves half a record. Pages and summaries read the
typed fields only: nothing parses reason strings back. A successful stage clears an earlier
failure recorded at that stage, so a fixed and rerun day no longer shows as failed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tasks.layout import DataLayout
from tasks.parquet_io import write_text_atomic


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Section(BaseModel):
    # extra fields are kept so a stage can record more than the pages show
    model_config = ConfigDict(extra="allow")
    updated_at: str = Field(default_factory=_now)


class ValidationSection(Section):
    rows_in: int = 0
    rows_validated: int = 0
    rows_quarantined: int = 0
    stopped: bool = False
    reason: str | None = None
    failed_expectations: list[str] = Field(default_factory=list)
    data_docs: str | None = None


class FeaturesSection(Section):
    rows: int | None = None
    window_days: int | None = None


class ScoringSection(Section):
    model_version: str
    model_uri: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    users_scored: int = 0
    alerts: int = 0
    alert_rate: float = 0.0
    threshold: float | None = None


class DriftSection(Section):
    feature_count: int = 0
    drifted_features: list[str] = Field(default_factory=list)
    drift_share: float = 0.0
    drift_scores: dict[str, float] = Field(default_factory=dict)  # feature -> PSI
    score_drift: float = 0.0
    score_drifted: bool = False
    alert_rate: float | None = None
    trailing_alert_rate: float | None = None
    alert_rate_band: tuple[float, float] | None = None
    alert_rate_out_of_band: bool = False
    drift_detected: bool = False
    retrain_recommended: bool = False
    blocked_by_cooldown: bool = False
    reasons: list[str] = Field(default_factory=list)  # the rule's own words, shown verbatim
    model_version: str | None = None
    reference_window: str | None = None
    report: str | None = None


class RetrainSection(Section):
    triggered: bool = False
    mode: str | None = None
    flow_run_id: str | None = None
    state: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    promotion_decision: str | None = None
    promotion_reason: str | None = None
    error: str | None = None
    skip_reason: str | None = None  # the rule's words when this retrain found nothing to do
    skipped_runs: list[str] = Field(default_factory=list)  # later triggers for the day that were no-ops, and why

    @property
    def promoted(self) -> bool:
        return (self.promotion_decision or "").lower().startswith("promot")


class TrainingSection(Section):
    """The model versions whose training window included this day (a day can be in several)."""

    versions: list[str] = Field(default_factory=list)


class DailyOutcome(StrEnum):
    COMPLETED = "completed"
    VALIDATION_STOPPED = "validation stopped"
    NO_INPUT = "no input"  # the day's input was missing: nothing to process, not a broken pipeline
    FAILED = "failed"


class DailySection(Section):
    outcome: DailyOutcome
    stage: str | None = None
    reason: str | None = None
    completed: bool = False


SECTIONS: dict[str, type[Section]] = {
    "validation": ValidationSection, "features": FeaturesSection, "scoring": ScoringSection,
    "drift": DriftSection, "retrain": RetrainSection, "training": TrainingSection, "daily": DailySection,
}
# the daily flow names its stages in words; a stage's success supersedes a failure there
STAGE_SECTION = {"validation": "validation", "features": "features", "scoring": "scoring",
                 "monitoring": "drift", "retrain": "retrain"}


class DayRecord(BaseModel):
    date: date
    validation: ValidationSection | None = None
    features: FeaturesSection | None = None
    scoring: ScoringSection | None = None
    drift: DriftSection | None = None
    retrain: RetrainSection | None = None
    training: TrainingSection | None = None
    daily: DailySection | None = None

    @property
    def failure(self) -> DailySection | None:
        if self.daily is None or self.daily.outcome == DailyOutcome.COMPLETED:
            return None
        return self.daily

    @property
    def has_data(self) -> bool:
        """Did any stage produce something for the day (rows validated, features, scores)?"""
        return bool((self.validation and self.validation.rows_in) or self.features or self.scoring)


def _record_path(layout: DataLayout, day: date):
    return layout.runs / f"date={day.isoformat()}.json"


def read_day_record(layout: DataLayout, day: date) -> DayRecord:
    path = _record_path(layout, day)
    if not path.exists():
        return DayRecord(date=day)
    return DayRecord.model_validate_json(path.read_text(encoding="utf-8"))


def read_day_status(layout: DataLayout, day: date) -> dict[str, Any]:
    """The day's record as plain JSON data (empty when the day has none)."""
    if not _record_path(layout, day).exists():
        return {}
    return read_day_record(layout, day).model_dump(mode="json", exclude_none=True)


def save_day_record(layout: DataLayout, record: DayRecord) -> DayRecord:
    write_text_atomic(_record_path(layout, record.date), record.model_dump_json(indent=2, exclude_none=True))
    return record


def update_day_status(layout: DataLayout, day: date, section: str, payload: dict[str, Any] | Section) -> DayRecord:
    """Replace ``section`` of the day's record with ``payload`` (validated, stamped with the time)."""
    model = SECTIONS[section]
    data = payload.model_dump() if isinstance(payload, BaseModel) else dict(payload)
    data.pop("updated_at", None)
    record = read_day_record(layout, day)
    setattr(record, section, model.model_validate(data))
    failure = record.failure
    if section != "daily" and failure is not None and STAGE_SECTION.get(failure.stage or "") == section:
        record.daily = None  # this stage succeeded since: the earlier failure is superseded
    return save_day_record(layout, record)


def record_training_window(layout: DataLayout, days: list[date], version: str) -> None:
    """Mark each day of a retrain's window as training data of ``version``."""
    for day in days:
        training = read_day_record(layout, day).training or TrainingSection()
        versions = [*training.versions, version] if version not in training.versions else training.versions
        update_day_status(layout, day, "training", {"versions": versions})


def training_window_of(layout: DataLayout, version: str) -> str | None:
    """"2026-01-01..2026-01-10": the days recorded as ``version``'s training window (None if unknown)."""
    days = [d for d in days_with_status(layout)
            if (training := read_day_record(layout, d).training) and version in training.versions]
    return f"{days[0].isoformat()}..{days[-1].isoformat()}" if days else None


def days_with_status(layout: DataLayout) -> list[date]:
    if not layout.runs.exists():
        return []
    return sorted(date.fromisoformat(p.stem[5:]) for p in layout.runs.glob("date=*.json"))
