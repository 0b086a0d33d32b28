"""A drift retrain, decided and recorded by the retrain itself, under the one retrain guard.

Whoever starts it (the drift automation through the retrain deployment, the daily flow
in-process, a duplicate event), the retrain holds the guard, then re-applies the retrain rule
(tasks.monitoring.retrain_rule.decide_retrain) to the day's recorded drift and the cooldown days.
So the cooldown lives in one place, and a second trigger for a day that was just retrained waits
for the first, then finds the day in the cooldown and records a no-op with the rule's words.
The retrain writes its own RetrainSection into the day's record, adds the day to the cooldown
once it finished, and persists its result keyed by the flow run that started it (the deployment
run, or the run that called it in-process), so a caller reads that result, never "the newest
registered version".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tasks.errors import first_line
from tasks.layout import DataLayout
from tasks.monitoring.drift import DriftSummary
from tasks.monitoring.retrain_rule import (
    RetrainDecision,
    decide_retrain,
    drift_retrain_days,
    record_drift_retrain,
)
from tasks.parquet_io import write_text_atomic
from tasks.registry.retrain_guard import retrain_guard
from tasks.run_status import DriftSection, RetrainSection, read_day_record, update_day_status
from tasks.settings import MonitoringSettings, Settings
from tasks.training.result import TrainResult

log = logging.getLogger(__name__)


def recorded_summary(drift: DriftSection) -> DriftSummary:
    """The monitor's summary back from the day's drift record (the facts the rule reads)."""
    return DriftSummary(
        feature_count=drift.feature_count, drifted_features=list(drift.drifted_features),
        drift_share=drift.drift_share, score_drift=drift.score_drift, score_drifted=drift.score_drifted,
        alert_rate=drift.alert_rate or 0.0, trailing_alert_rate=drift.trailing_alert_rate,
        alert_rate_band=drift.alert_rate_band, drift_scores=dict(drift.drift_scores))


def recheck_decision(layout: DataLayout, day: date, monitoring: MonitoringSettings) -> RetrainDecision:
    """The retrain rule on the day's recorded drift and the cooldown as it stands now."""
    drift = read_day_record(layout, day).drift
    if drift is None:
        return RetrainDecision(retrain=False, reasons=[f"no drift recorded for {day} (run `shopguard monitor` first)"])
    return decide_retrain(recorded_summary(drift), day, drift_retrain_days(layout), monitoring)


def result_path(layout: DataLayout, run_key: str) -> Path:
    return layout.state / "retrain_results" / f"{run_key}.json"


def save_retrain_result(layout: DataLayout, run_key: str | None, section: RetrainSection) -> None:
    if run_key:
        write_text_atomic(result_path(layout, run_key), section.model_dump_json(indent=2, exclude_none=True))


def read_retrain_result(layout: DataLayout, run_key: str) -> RetrainSection | None:
    """The result the drift retrain started by flow run ``run_key`` persisted (None: it wrote none)."""
    path = result_path(layout, run_key)
    if not path.exists():
        return None
    return RetrainSection.model_validate_json(path.read_text(encoding="utf-8"))


def _record_no_op(layout: DataLayout, day: date, run_key: str | None, mode: str,
                  decision: RetrainDecision) -> RetrainSection:
    reason = decision.reasons[-1] if decision.blocked_by_cooldown else "; ".join(decision.reasons)
    result = RetrainSection(triggered=False, mode=mode, flow_run_id=run_key, state="Skipped", skip_reason=reason)
    existing = read_day_record(layout, day).retrain
    if existing is not None and existing.triggered:  # keep the retrain that ran; note this trigger beside it
        note = f"flow run {run_key or '-'}: {reason}"
        update_day_status(layout, day, "retrain", existing.model_copy(
            update={"skipped_runs": [*existing.skipped_runs, note]}))
    else:
        update_day_status(layout, day, "retrain", result)
    save_retrain_result(layout, run_key, result)
    log.info("%s: drift retrain not run: %s", day, reason)
    return result


def run_drift_retrain(day: date, settings: Settings, train: Callable[[], TrainResult], run_key: str | None,
                      mode: str) -> RetrainSection:
    """Under the retrain guard: the rule, then ``train`` (an unguarded retrain on the window ending
    ``day``) if it says so; records the outcome. A failed retrain is recorded, then re-raised."""
    layout = DataLayout(settings.data_dir)
    with retrain_guard(settings, f"drift retrain {day}"):
        decision = recheck_decision(layout, day, settings.monitoring)
        if not decision.retrain:
            return _record_no_op(layout, day, run_key, mode, decision)
        started = RetrainSection(triggered=True, mode=mode, flow_run_id=run_key)
        try:
            result = train()
        except Exception as exc:
            failed = started.model_copy(update={"state": "Failed", "error": first_line(exc)})
            update_day_status(layout, day, "retrain", failed)
            save_retrain_result(layout, run_key, failed)
            raise
        section = started.model_copy(update={
            "state": "Completed", "model_version": result.version, "run_id": result.parent_run_id,
            "promotion_decision": result.decision, "promotion_reason": result.reason})
        record_drift_retrain(layout, day)  # only now: a crashed retrain is retried when the day reruns
        update_day_status(layout, day, "retrain", section)
        save_retrain_result(layout, run_key, section)
    log.info("%s: drift retrain registered v%s (%s)", day, result.version, result.decision)
    return section
