"""Retrain: sweep detectors on a window of features, register the best, gate its promotion.

One MLflow parent run per retrain (named with the window and the trigger), one nested child run
per Optuna trial; the best becomes alias ``challenger`` and, if the gate agrees, ``champion``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Literal

from prefect import flow
from pydantic import BaseModel

from tasks.features.catalogue import FEATURE_SCHEMA_VERSION, model_feature_names
from tasks.registry.promotion import promote_manually
from tasks.settings import Settings
from tasks.tracking import code_version, system_metrics
from tasks.training import runs
from tasks.training.model_card import CardContext
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


class TrainResult(BaseModel):
    parent_run_id: str
    version: str
    decision: str
    reason: str
    detector: str
    objective_name: str
    objective: float
    data_window: str


@flow(name="train", flow_run_name="train-{end}-{trigger}", log_prints=False)
def train_flow(end: date, settings: Settings, window_days: int | None = None, trials: int | None = None,
               trigger: Trigger = "manual") -> TrainResult:
    cfg = settings.training
    window = plan_window(end, window_days or cfg.window_days, cfg.validation_days)
    experiment_id = configure_tracking(settings)
    data = load_training_window(settings, window, model_feature_names())
    tags = runs.run_tags(window, trigger, FEATURE_SCHEMA_VERSION, code_version())
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
        finish_parent_run(settings, parent_run_id, "FAILED")
        raise
    finish_parent_run(settings, parent_run_id, "FINISHED")
    result = TrainResult(parent_run_id=parent_run_id, version=str(version.version), decision=decision.label,
                         reason=decision.reason, detector=outcome.best.detector_name,
                         objective_name=outcome.objective_name, objective=outcome.best.objective,
                         data_window=window.label)
    log.info("train %s: version %s (%s) %s: %s", window.label, result.version, result.detector, result.decision,
             result.reason)
    return result


def promote_version(version: int | str, settings: Settings, reason: str) -> str | None:
    """Manual override and rollback: make ``version`` the champion; returns the replaced version.

    A plain function, not a flow: a 3 a.m. rollback should not wait for a Prefect server.
    """
    configure_tracking.fn(settings)
    return promote_manually(settings, str(version), reason)
