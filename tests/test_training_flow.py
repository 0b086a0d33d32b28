"""The train flow end to end: real Prefect engine, real MLflow sqlite store, real Optuna sweep."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from test_training_units import END, write_feature_window

from tasks.features.catalogue import FEATURE_SCHEMA_VERSION, model_feature_names
from tasks.training.metrics import METRIC_NAMES

pytestmark = pytest.mark.slow

TRIALS = 4


@pytest.fixture
def fast_settings(settings):
    settings.training.detectors = ["isolation_forest", "gaussian", "ecod"]
    settings.training.parallel_trials = 2
    return settings


def _runs(settings, experiment_name="shopguard") -> pd.DataFrame:
    mlflow.set_tracking_uri(settings.tracking_uri)
    return mlflow.search_runs(experiment_names=[experiment_name])


def test_sweep_logs_one_parent_with_nested_trials_and_registers_champion(prefect_harness, fast_settings):
    from flows.train import train_flow

    settings = fast_settings
    write_feature_window(settings, users=300, anomaly_share=0.02)
    result = train_flow(end=END, settings=settings, trials=TRIALS, trigger="schedule")

    runs = _runs(settings)
    parent = runs[runs["run_id"] == result.parent_run_id].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    assert parent["tags.mlflow.runName"] == "retrain 2026-01-01..2026-01-07 (schedule)"
    assert parent["status"] == "FINISHED"
    assert len(children) == TRIALS and len(runs) == TRIALS + 1
    complete = children[children["tags.trial_state"] == "complete"]
    assert len(complete) >= 1
    for name in METRIC_NAMES:
        assert complete[f"metrics.{name}"].notna().all(), name
        assert pd.notna(parent[f"metrics.{name}"]), name
    for tag, value in {"trigger": "schedule", "data_window": "2026-01-01..2026-01-07",
                       "feature_schema_version": FEATURE_SCHEMA_VERSION}.items():
        assert (children[f"tags.{tag}"] == value).all() and parent[f"tags.{tag}"] == value
    from tasks.training.search_space import LABEL_AWARE_FAMILIES

    families = [*fast_settings.training.detectors, *LABEL_AWARE_FAMILIES]
    assert children["tags.detector"].isin(families).all()
    # Pruned trials ran as planned: FINISHED, tagged, with their rung's metrics; only failures FAIL.
    assert (children.loc[children["tags.trial_state"] != "failed", "status"] == "FINISHED").all()
    pruned = children[children["tags.trial_state"] == "pruned"]
    assert pruned.empty or ((pruned["tags.pruned"] == "true").all()
                            and pruned["metrics.val_recall_at_budget"].notna().all())
    # Recall per anomaly kind at the alert budget, for every kind planted in the held-out days.
    for kind in ("scraper", "card_testing", "account_takeover"):
        assert 0 <= parent[f"metrics.val_recall_at_budget__{kind}"] <= 1, kind
    assert children["tags.code_version"].str.len().gt(6).all()

    client = mlflow.MlflowClient(settings.tracking_uri)
    artifacts = {a.path for a in client.list_artifacts(result.parent_run_id)}
    artifacts |= {a.path for a in client.list_artifacts(result.parent_run_id, "review")}
    for expected in ("model_card.md", "reference", "review/roc_curve.png", "review/pr_curve.png",
                     "review/score_histogram.png", "review/confusion_matrix.png", "review/recall_by_kind.png",
                     "review/feature_importance.png", "review/threshold_table.csv", "review/kind_guess_accuracy.csv"):
        assert expected in artifacts, expected
    card = client.download_artifacts(result.parent_run_id, "model_card.md", dst_path=str(settings.data_dir))
    card_text = Path(card).read_text()
    assert "promoted" in card_text and "## Model kind" in card_text
    assert "Recall per anomaly kind at the alert budget" in card_text and "| card_testing |" in card_text
    assert "Kind guess on the alerts page, checked against `anomaly_type` labels" in card_text

    inputs = client.get_run(result.parent_run_id).inputs.dataset_inputs
    assert len(inputs) == 7
    assert all(len(i.dataset.digest) == 16 and "date=2026-01-0" in i.dataset.source for i in inputs)
    assert {t.value for i in inputs for t in i.tags} == {"training", "validation"}

    assert result.decision == "promoted" and "first model" in result.reason
    version = client.get_model_version_by_alias(settings.registered_model_name, "champion")
    assert str(version.version) == result.version == "1"
    assert str(client.get_model_version_by_alias(settings.registered_model_name, "challenger").version) == "1"
    assert version.tags["model_kind"] in ("label-aware", "label-free")
    assert set(children["tags.model_kind"]) <= {"label-aware", "label-free"}
    for tag in ("run_id", "detector", "feature_schema_version", "data_window", "trigger", "promotion_decision",
                "promotion_reason", "challenger_score", "champion_score"):
        assert tag in version.tags, tag
    assert version.tags["run_id"] == result.parent_run_id
    assert parent["tags.promotion_decision"] is not None

    # The reference sample for drift reports is there, with keys and model features.
    ref = mlflow.artifacts.download_artifacts(run_id=result.parent_run_id, artifact_path="reference/features.parquet",
                                              dst_path=str(settings.data_dir / "dl"), tracking_uri=settings.tracking_uri)
    reference = pd.read_parquet(ref)
    assert {"user_id", "date", *model_feature_names()} <= set(reference.columns) and len(reference) > 100

    # Nothing written outside the data root.
    assert not (settings.data_dir.parent / "mlruns").exists()


def test_gate_promotes_better_refuses_worse_and_rollback_restores(prefect_harness, fast_settings):
    from flows.train import promote_version, train_flow
    from tasks.registry.packaging import log_and_register
    from tasks.tracking import configure_mlflow, mlflow_client

    settings = fast_settings
    # Serial trials: with two threads TPE's sampling depends on timing, so a rerun of the same
    # window could find a better model and the "not better by the margin" case would not hold.
    settings.training.parallel_trials = 1
    write_feature_window(settings, users=300, anomaly_share=0.02)
    # A poor champion: fitted on inflated rows, so the planted anomalies look normal to it.
    from test_training_units import feature_day

    from models.registry import make_detector

    frame, _ = feature_day(date(2025, 12, 1), users=300)
    names = model_feature_names()
    inflated = frame.copy()
    inflated[names] = inflated[names] * 6.0
    poor = make_detector("gaussian").fit(inflated[names])
    client = mlflow_client(settings)
    run_id = client.create_run(configure_mlflow(settings), run_name="poor champion").info.run_id
    poor_version = log_and_register(poor, run_id, frame, settings).version
    client.set_terminated(run_id)
    client.set_registered_model_alias(settings.registered_model_name, "champion", poor_version)

    better = train_flow(end=END, settings=settings, trials=TRIALS)
    assert better.decision == "promoted", better.reason
    assert "challenger wins" in better.reason
    champion = client.get_model_version_by_alias(settings.registered_model_name, "champion")
    assert str(champion.version) == better.version and champion.tags["previous_champion"] == str(poor_version)
    assert float(champion.tags["challenger_score"]) > float(champion.tags["champion_score"])

    # Same window again: the challenger cannot beat the champion by the margin.
    settings.training.promotion_margin = 0.05
    again = train_flow(end=END, settings=settings, trials=TRIALS, trigger="drift")
    assert again.decision == "rejected" and "not better by the margin" in again.reason
    assert str(client.get_model_version_by_alias(settings.registered_model_name, "champion").version) == better.version
    assert str(client.get_model_version_by_alias(settings.registered_model_name, "challenger").version) == again.version
    rejected = client.get_model_version(settings.registered_model_name, again.version)
    assert rejected.tags["promotion_decision"] == "rejected"
    parent = client.get_run(again.parent_run_id)
    assert parent.data.tags["promotion_decision"] == "rejected" and parent.data.tags["trigger"] == "drift"

    # Manual rollback to the old champion, then forward again.
    name = settings.registered_model_name
    assert str(client.get_model_version_by_alias(name, "previous-champion").version) == str(poor_version)
    assert client.get_model_version(name, better.version).description.startswith("promoted: challenger")
    champion_now, replaced = promote_version(version=None, settings=settings, reason="rollback drill")
    assert (champion_now, replaced) == (str(poor_version), better.version)
    restored = client.get_model_version_by_alias(name, "champion")
    assert str(restored.version) == str(poor_version)
    assert restored.tags["promotion_decision"] == "manual" and restored.tags["promotion_reason"] == "rollback drill"
    assert restored.description == "manual promotion: rollback drill"
    assert str(client.get_model_version_by_alias(name, "previous-champion").version) == better.version


def test_promote_unknown_version_fails_with_one_line(fast_settings):
    from flows.train import promote_version
    from tasks.errors import ShopguardError

    with pytest.raises(ShopguardError, match="has no version 9"):
        promote_version(version=9, settings=fast_settings, reason="typo")


def test_pruned_trial_run_ends_finished_with_tag_and_rung_metrics(fast_settings):
    from tasks.tracking import configure_mlflow, mlflow_client
    from tasks.training.objective import TrialResult
    from tasks.training.runs import log_trial_run

    client = mlflow_client(fast_settings)
    experiment_id = configure_mlflow(fast_settings)
    parent = client.create_run(experiment_id, run_name="retrain").info.run_id
    rung = TrialResult("autoencoder", {"latent_dim": 12}, {"val_recall_at_budget": 0.4, "alert_rate": 0.05}, 0.4)
    run_id = log_trial_run(client, experiment_id, parent, 3, "autoencoder", rung.params, {}, rung, "pruned",
                           "pruned at rung 0 (30% of the fit rows): val_recall_at_budget 0.4000")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["pruned"] == "true" and run.data.tags["trial_state"] == "pruned"
    assert "rung 0" in run.data.tags["pruned_reason"] and "error" not in run.data.tags
    assert run.data.metrics["val_recall_at_budget"] == 0.4 and run.data.metrics["objective"] == 0.4


def test_label_aware_model_serves_from_the_registry_like_in_memory(fast_settings):
    """The XGBOD hybrid (members + refit-on-load boosting) packaged as the pyfunc scores identically."""
    import numpy as np
    from test_training_units import feature_day

    from models.registry import make_detector
    from tasks.registry.packaging import log_and_register
    from tasks.tracking import configure_mlflow, mlflow_client

    names = model_feature_names()
    fit, fit_labels = feature_day(date(2026, 1, 1), users=300)
    detector = make_detector("xgbod", max_iter=30).fit(fit[names], fit_labels["is_anomaly"].to_numpy())
    client = mlflow_client(fast_settings)
    run_id = client.create_run(configure_mlflow(fast_settings)).info.run_id
    version = log_and_register(detector, run_id, fit, fast_settings)
    day, labels = feature_day(date(2026, 1, 2), users=200)
    served = mlflow.pyfunc.load_model(f"models:/{fast_settings.registered_model_name}/{version.version}").predict(day)
    np.testing.assert_array_equal(served["anomaly_score"].to_numpy(), detector.decision_function(day[names]))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(labels["is_anomaly"], served["anomaly_score"]) > 0.95
