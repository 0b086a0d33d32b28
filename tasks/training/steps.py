"""Thin Prefect tasks of the train flow. Each wraps helpers from this package or tasks.registry.

Retries only for reading partitions: MLflow's client already retries its HTTP calls within a
bounded time (tasks.tracking.HTTP_LIMITS), and task retries on top multiplied an outage's wait. Caching is
off: the inputs are DataFrames and live MLflow runs, and a retrain must really rerun.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from mlflow.entities.model_registry import ModelVersion
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.layout import DataLayout
from tasks.registry.packaging import log_and_register
from tasks.registry.promotion import (
    Decision,
    current_champion,
    decide_promotion,
    gate_score,
    record_decision,
    score_champion,
)
from tasks.settings import Settings
from tasks.tracking import configure_mlflow, mlflow_client
from tasks.training import runs
from tasks.training.executors import trial_executor
from tasks.training.model_card import CardContext, render_model_card
from tasks.training.objective import TrialData, TrialResult, model_kind
from tasks.training.review import Review, build_review, log_review
from tasks.training.search_space import available_families
from tasks.training.sweep import SweepOutcome, run_sweep
from tasks.training.window import TrainingWindow, WindowData, load_window

log = logging.getLogger(__name__)


@task(name="configure-mlflow", cache_policy=NO_CACHE)
def configure_tracking(settings: Settings) -> str:
    return configure_mlflow(settings)


@task(name="load-training-window", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def load_training_window(settings: Settings, window: TrainingWindow, feature_names: list[str]) -> WindowData:
    return load_window(DataLayout(settings.data_dir), window, feature_names)


@task(name="start-parent-run", cache_policy=NO_CACHE)
def start_parent_run(settings: Settings, experiment_id: str, data: WindowData, trigger: str,
                     tags: dict[str, str]) -> str:
    """Create the retrain's parent run with its lineage (dataset inputs) and drift reference."""
    client = mlflow_client(settings)
    run_id = runs.start_parent_run(client, experiment_id, data.window, trigger, tags)
    runs.log_dataset_inputs(client, run_id, data)
    runs.log_reference(client, run_id, runs.reference_sample(data, seed=settings.training.seed))
    return run_id


def trial_data(data: WindowData, settings: Settings) -> TrialData:
    labelled = data.labelled_fit if data.has_fit_labels else None
    return TrialData(X_fit=data.fit[data.feature_names], X_val=data.validation[data.feature_names],
                     y_val=data.labels, threshold_percentile=settings.training.threshold_percentile,
                     alert_budget=settings.training.alert_budget, seed=settings.training.seed,
                     budget_rate=settings.training.max_alert_rate, kinds_val=data.kinds,
                     X_fit_labelled=None if labelled is None else labelled[data.feature_names],
                     y_fit=data.fit_labels if labelled is not None else None)


@task(name="sweep-detectors", cache_policy=NO_CACHE)
def sweep_detectors(settings: Settings, experiment_id: str, parent_run_id: str, data: WindowData, trials: int,
                    tags: dict[str, str]) -> SweepOutcome:
    client = mlflow_client(settings)

    def record(number: int, name: str, params: dict[str, Any], result: TrialResult | None, state: str,
               error: str | None) -> None:
        runs.log_trial_run(client, experiment_id, parent_run_id, number, name, params, tags, result, state, error)

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # every trial is in MLflow already
    families = available_families(settings.training.detectors, with_labels=data.has_fit_labels,
                                  unlabelled_holdout=not data.has_labels)
    with trial_executor(settings.dask_address, settings.training.parallel_trials) as executor:
        outcome = run_sweep(trial_data(data, settings), families, trials, settings.training.parallel_trials,
                            settings.training.seed, record, executor)
    runs.log_best(client, parent_run_id, outcome.best, outcome.objective_name)
    return outcome


@task(name="log-reviewer-artifacts", cache_policy=NO_CACHE)
def log_reviewer_artifacts(settings: Settings, parent_run_id: str, best: TrialResult, data: WindowData) -> Review:
    review = build_review(best, data)
    log_review(mlflow_client(settings), parent_run_id, review)
    return review


# No retries: a retry after a partial success would register an orphan version.
@task(name="register-challenger", cache_policy=NO_CACHE)
def register_challenger(settings: Settings, parent_run_id: str, best: TrialResult, data: WindowData,
                        tags: dict[str, str]) -> ModelVersion:
    """Log the best as the pyfunc, register it as a new version and tag the version."""
    assert best.detector is not None
    client = mlflow_client(settings)
    version = log_and_register(best.detector, parent_run_id, data.fit, settings)
    version_tags = {"run_id": parent_run_id, "detector": best.detector_name,
                    "model_kind": model_kind(best.detector_name), **tags}
    for key, value in version_tags.items():
        client.set_model_version_tag(settings.registered_model_name, version.version, key, value)
    return version


@task(name="promotion-gate", cache_policy=NO_CACHE)
def promotion_gate(settings: Settings, version: ModelVersion, best: TrialResult, data: WindowData,
                   parent_run_id: str, objective_name: str) -> Decision:
    """Score challenger and champion on the same held-out rows, decide, and record the decision."""
    assert best.detector is not None and best.val_scores is not None
    client = mlflow_client(settings)
    cfg = settings.training
    challenger = gate_score(best.val_scores, best.detector.threshold_, data.labels, cfg.alert_budget, cfg.max_alert_rate)
    champion_version = current_champion(client, settings.registered_model_name)
    champion, champion_error = None, None
    if champion_version is not None:
        rows = data.validation if len(data.validation) else data.fit
        champion, champion_error = score_champion(settings, champion_version, rows, data.labels, cfg.alert_budget,
                                                  cfg.max_alert_rate)
    decision = decide_promotion(challenger, champion, cfg.promotion_margin, cfg.max_alert_rate, champion_error)
    record_decision(settings, version.version, decision, parent_run_id, objective_name,
                    str(champion_version.version) if champion_version is not None else None)
    return decision


@task(name="log-model-card", cache_policy=NO_CACHE)
def log_model_card(settings: Settings, parent_run_id: str, outcome: SweepOutcome, data: WindowData,
                   review: Review, ctx: CardContext) -> None:
    card = render_model_card(outcome.best, data, ctx, review.importance, review.by_kind, outcome.best_by_kind,
                             review.kind_guess)
    mlflow_client(settings).log_text(parent_run_id, card, "model_card.md")


@task(name="finish-parent-run", cache_policy=NO_CACHE)
def finish_parent_run(settings: Settings, parent_run_id: str, status: str) -> None:
    mlflow_client(settings).set_terminated(parent_run_id, status=status)
