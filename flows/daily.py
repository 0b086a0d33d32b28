"""The daily flows: score a day, monitor it, and run the whole day (retraining on drift).

daily_flow: validate -> features -> score -> monitor -> retrain decision -> on-call page.
A drifted day's monitor emits ``shopguard.drift.detected``; where a Prefect server has the drift
automation, that event starts the retrain deployment, else the daily flow retrains in-process.
Every stage records its section of reports/runs/date=D.json and the on-call page is rebuilt from
those records, so a failed or stopped day still shows up for on-call with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from prefect import flow, unmapped

from flows.engine import dask_task_runner, uses_dask
from tasks.catalog import PART_FILE
from tasks.errors import DataMissingError, ValidationStopped, first_line
from tasks.layout import DataLayout
from tasks.monitoring.drift import DriftSummary
from tasks.monitoring.drift_event import emit_drift_event
from tasks.monitoring.retrain_launch import launch_drift_retrain, record_launch_failure
from tasks.monitoring.retrain_rule import RetrainDecision, decide_retrain, drift_retrain_days
from tasks.monitoring.steps import drift_report, publish_oncall
from tasks.run_status import (
    DailyOutcome,
    RetrainSection,
    ScoringSection,
    training_window_of,
    update_day_status,
)
from tasks.scoring.champion import champion_model_dir
from tasks.scoring.io import (
    load_feature_keys_task,
    load_features_task,
    read_day_scores,
    write_alerts_task,
    write_scores_task,
)
from tasks.scoring.scoring import served_threshold
from tasks.scoring.shards import merge_shard_scores, score_shard_task
from tasks.scoring.steps import champion_task, rank_task, reference_task, score_and_rank
from tasks.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    summary: DriftSummary
    decision: RetrainDecision


@flow(name="score-shards", flow_run_name="score {day} in {n_shards} shards")
def sharded_scores_flow(model_dir: Path, version: str, features_file: Path, n_shards: int, day: date) -> list[pd.DataFrame]:
    """Each user shard of the day's features scored by its own task on this flow's runner (Dask)."""
    futures = score_shard_task.map(unmapped(model_dir), unmapped(version), unmapped(features_file),
                                   list(range(n_shards)), unmapped(n_shards))
    return futures.result()


@flow(name="score-day", flow_run_name="score {day}")
def score_flow(day: date, settings: Settings) -> dict:
    """Score the day's user-days with the champion; write scores/date=D and alerts/date=D."""
    layout = DataLayout(settings.data_dir)
    if uses_dask(settings):  # the same scores, one task per user shard on the cluster
        keys = load_feature_keys_task(layout, day)  # the catalog's checks, and the rows' order
        champion = champion_task(settings)
        sharded = sharded_scores_flow.with_options(task_runner=dask_task_runner(settings))
        parts = sharded(model_dir=champion_model_dir(settings, champion), version=champion.version,
                        features_file=layout.features(day) / PART_FILE, n_shards=settings.dask_shards, day=day)
        scores = merge_shard_scores(keys, parts)
        alerts = rank_task(champion, scores)  # percentiles and ranks need the whole day
    else:
        features = load_features_task(layout, day)
        champion = champion_task(settings)
        scores, alerts = score_and_rank(champion, features)
    write_scores_task(layout, day, scores)
    write_alerts_task(layout, day, alerts)
    summary = ScoringSection(
        model_version=champion.version, model_uri=champion.uri, run_id=champion.run_id,
        experiment_id=champion.experiment_id, users_scored=len(scores), alerts=len(alerts),
        alert_rate=float(scores["is_anomaly"].mean()), threshold=served_threshold(champion.model))
    update_day_status(layout, day, "scoring", summary)
    publish_oncall(day, settings)
    log.info("%s: scored %d users with v%s, %d alerts", day, len(scores), champion.version, len(alerts))
    return summary.model_dump(mode="json")


@flow(name="monitor-day", flow_run_name="monitor {day}")
def monitor_flow(day: date, settings: Settings) -> MonitorResult:
    """Drift report against the champion's reference, the retrain rule's decision, the on-call page."""
    layout = DataLayout(settings.data_dir)
    champion = champion_task(settings)
    reference = reference_task(settings, champion)
    features = load_features_task(layout, day)
    scores = read_day_scores(layout, day)
    summary = drift_report(day, settings, champion, reference, features, scores)
    decision = decide_retrain(summary, day, drift_retrain_days(layout), settings.monitoring)
    update_day_status(layout, day, "drift", {
        **summary.to_record(), "drift_detected": decision.drift_detected, "reasons": decision.reasons,
        "retrain_recommended": decision.retrain, "blocked_by_cooldown": decision.blocked_by_cooldown,
        "model_version": champion.version, "reference_window": training_window_of(layout, champion.version),
        "report": f"drift/date={day.isoformat()}/index.html",
    })
    log.info("%s: drift share %.0f%%, score drift %.2f, retrain %s (%s)", day, 100 * summary.drift_share,
             summary.score_drift, decision.retrain, "; ".join(decision.reasons))
    if decision.retrain:  # the drift automation, where a server has it, retrains on this event
        emit_drift_event(day, settings, summary, decision, champion.version)
    publish_oncall(day, settings)
    return MonitorResult(summary=summary, decision=decision)


def start_drift_retrain(day: date, settings: Settings) -> RetrainSection | None:
    """The day's drift retrain (tasks.monitoring.retrain_launch): None when the drift automation
    runs it on the monitor's event, else its recorded result (deployment or in-process)."""
    from infra.automations import drift_automation_name
    from infra.deployments import RETRAIN_DEPLOYMENT

    return launch_drift_retrain(day, settings, deployment_name=RETRAIN_DEPLOYMENT,
                                automation_name=drift_automation_name(settings.data_dir),
                                in_process=lambda: _drift_retrain_in_process(day, settings))


def _drift_retrain_in_process(day: date, settings: Settings) -> RetrainSection:
    from flows.train import drift_retrain_flow

    return drift_retrain_flow(day=day, settings=settings)


def _record_failure(layout: DataLayout, day: date, stage: str, exc: Exception) -> None:
    if isinstance(exc, ValidationStopped):
        outcome = DailyOutcome.VALIDATION_STOPPED
    elif isinstance(exc, DataMissingError) and stage == "validation":
        outcome = DailyOutcome.NO_INPUT  # nothing arrived for the day: on-call's page stays quiet about it
    else:
        outcome = DailyOutcome.FAILED
    update_day_status(layout, day, "daily", {"outcome": outcome, "stage": stage, "reason": first_line(exc)})


@flow(name="daily", flow_run_name="daily {day}")
def daily_flow(day: date, settings: Settings) -> str:
    """The whole day; returns its on-call status (OK, drift, retrained). Failures raise one line."""
    from flows.features import features_flow
    from flows.validate import validate_flow

    layout = DataLayout(settings.data_dir)
    stage = "validation"
    try:
        validate_flow(day=day, settings=settings)
        stage = "features"
        features_flow(day=day, settings=settings)
        stage = "scoring"
        score_flow(day=day, settings=settings)
        stage = "monitoring"
        result = monitor_flow(day=day, settings=settings)
        if result.decision.retrain:
            stage = "retrain"
            log.info("%s: drift retrain starting: %s", day, "; ".join(result.decision.reasons))
            try:
                start_drift_retrain(day, settings)  # the retrain records itself into the day's record
            except Exception as exc:
                record_launch_failure(settings, day, exc)
                raise
    except Exception as exc:
        _record_failure(layout, day, stage, exc)
        publish_oncall(day, settings)
        raise
    update_day_status(layout, day, "daily", {"outcome": DailyOutcome.COMPLETED, "completed": True})
    return publish_oncall(day, settings)
