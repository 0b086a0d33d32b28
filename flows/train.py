"""Retrain: sweep detectors on a window of features, register the best, gate its promotion.

One MLflow parent run per retrain (named with the window and the trigger), one nested child run
per Optuna trial; the best becomes alias ``challenger`` and, if the gate agrees, ``champion``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Literal

import prefect.runtime
from prefect import flow

from tasks.features.catalogue import FEATURE_SCHEMA_VERSION, model_feature_names
from tasks.layout import DataLayout
from tasks.monitoring.drift_retrain import run_drift_retrain
from tasks.monitoring.steps import publish_oncall
from tasks.registry.contract import FLOW_RUN_TAG
from tasks.registry.promotion import promote_manually
from tasks.registry.repair import mark_abandoned_versions
from tasks.registry.retrain_guard import retrain_guard
from tasks.run_status import RetrainSection, record_training_window
from tasks.settings import Settings
from tasks.tracking import (
    code_version,
    end_run_quietly,
    fail_abandoned_runs,
    mlflow_client,
    system_metrics,
)
from tasks.training import runs
from tasks.training.model_card import CardContext
from tasks.training.result import TrainResult
from tasks.training.steps import (
    configure_tracking,
    finish_parent_run,
    load_training_window,
    log_model_card,
    log_reviewer_artifacts,
    promotion_gate,
    register_challenger,
    start_parent_run,
    sweep_detectors,
)
from tasks.training.window import plan_window

log = logging.getLogger(__name__)

Trigger = Literal["manual", "schedule", "drift"]

__all__ = ["TrainResult", "drift_retrain_flow", "promote_version", "train_flow"]


@flow(name="train", flow_run_name="train {end} ({trigger})", log_prints=False)
def train_flow(end: date, settings: Settings, window_days: int | None = None, trials: int | None = None,
               trigger: Trigger = "manual") -> TrainResult:
    """One retrain under the retrain guard: no other retrain or promotion moves the aliases meanwhile."""
    with retrain_guard(settings, f"train {end}"):
        return _train(end, settings, window_days, trials, trigger)


@flow(name="drift-retrain", flow_run_name="drift retrain {day}", log_prints=False)
def drift_retrain_flow(day: date, settings: Settings) -> RetrainSection:
    """The drift retrain for ``day``, however it was started: under the retrain guard the retrain
    rule decides (a day already retrained, or inside the cooldown, is a recorded no-op), then it
    retrains on the window ending ``day`` and records itself (tasks.monitoring.drift_retrain)."""
    # Keyed by the deployment run that started it (what its caller holds: this flow's direct parent,
    # scheduled_retrain_flow; not the root, which is the waiting daily run when run_deployment
    # started it as a subflow), or in-process by this run itself.
    mode = "deployment" if prefect.runtime.deployment.id else "in-process"
    run_key = prefect.runtime.flow_run.parent_flow_run_id if mode == "deployment" else prefect.runtime.flow_run.id
    section = run_drift_retrain(day, settings, lambda: _train(day, settings, None, None, "drift"), run_key, mode)
    publish_oncall(day, settings)  # started by the automation, nobody else renders the page afterwards
    return section


def _train(end: date, settings: Settings, window_days: int | None, trials: int | None,
           trigger: Trigger) -> TrainResult:
    cfg = settings.training
    window = plan_window(end, window_days or cfg.window_days, cfg.validation_days)
    experiment_id = configure_tracking(settings)
    # Holding the guard, any run still RUNNING belongs to a retrain that died: close it.
    fail_abandoned_runs(settings, experiment_id)
    mark_abandoned_versions(mlflow_client(settings), settings.registered_model_name)
    data = load_training_window(settings, window, model_feature_names())
    # The flow run id on the run and its version: either traces back to the Prefect run that made it.
    tags = {**runs.run_tags(window, trigger, FEATURE_SCHEMA_VERSION, code_version()),
            FLOW_RUN_TAG: str(prefect.runtime.flow_run.id)}
    parent_run_id = start_parent_run(settings, experiment_id, data, trigger, tags)
    try:
        with system_metrics(parent_run_id, settings):
            outcome = sweep_detectors(settings, experiment_id, parent_run_id, data, trials or cfg.trials, tags)
            review = log_reviewer_artifacts(settings, parent_run_id, outcome.best, data)
            version = register_challenger(settings, parent_run_id, outcome.best, data, tags)
            decision = promotion_gate(settings, version, outcome.best, data, parent_run_id, outcome.objective_name)
            ctx = CardContext(trigger=trigger, code_version=tags["code_version"],
                              feature_schema_version=FEATURE_SCHEMA_VERSION, objective_name=outcome.objective_name,
                              trial_states=outcome.states, budget_rate=cfg.max_alert_rate,
                              promotion=f"Version {version.version}: **{decision.label}**. {decision.reason}.")
            log_model_card(settings, parent_run_id, outcome, data, review, ctx)
    except BaseException:
        end_run_quietly(settings, parent_run_id, "FAILED")  # the store may be what failed
        raise
    finish_parent_run(settings, parent_run_id, "FINISHED")
    result = TrainResult(parent_run_id=parent_run_id, version=str(version.version), decision=decision.label,
                         reason=decision.reason, detector=outcome.best.detector_name,
                         objective_name=outcome.objective_name, objective=outcome.best.objective,
                         data_window=window.label)
    record_training_window(DataLayout(settings.data_dir), list(window.days), result.version)
    log.info("train %s: version %s (%s) %s: %s", window.label, result.version, result.detector, result.decision,
             result.reason)
    return result


def promote_version(version: int | str | None, settings: Settings, reason: str) -> tuple[str, str | None]:
    """Manual override (``version``) or rollback (``None``: to previous-champion), under the guard.

    Returns (the new champion, the version it replaced). A plain function, not a flow: a 3 a.m.
    rollback should not wait for a Prefect server to start.
    """
    with retrain_guard(settings, "promote"):
        configure_tracking.fn(settings)
        return promote_manually(settings, None if version is None else str(version), reason)
