"""Faults that could move or break the champion: a decision that fails half-way, missing, corrupt,
incompatible or foreign model files, and the gate's answer to each. Real MLflow sqlite store."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from test_training_units import feature_day

from models.registry import make_detector
from tasks.errors import ShopguardError
from tasks.features.catalogue import model_feature_names
from tasks.registry.contract import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from tasks.registry.packaging import log_and_register
from tasks.registry.promotion import Decision, promote_manually, record_decision, score_champion
from tasks.scoring.champion import load_champion
from tasks.tracking import configure_mlflow, mlflow_client

NAMES = model_feature_names()
DAY = date(2026, 1, 1)


def register(settings, detector_name: str = "gaussian", **params) -> tuple[str, str]:
    """A small fitted detector logged and registered from its own run; returns (version, run id)."""
    frame, _ = feature_day(DAY, users=200, anomaly_share=0.0)
    detector = make_detector(detector_name, **params).fit(frame[NAMES])
    client = mlflow_client(settings)
    run_id = client.create_run(configure_mlflow(settings)).info.run_id
    version = str(log_and_register(detector, run_id, frame, settings).version)
    client.set_terminated(run_id)
    return version, run_id


def aliases(settings) -> dict[str, str]:
    model = mlflow_client(settings).get_registered_model(settings.registered_model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def model_files(settings, version: str) -> Path:
    uri = mlflow_client(settings).get_model_version_download_uri(settings.registered_model_name, version)
    return Path(uri.removeprefix("file://"))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Two registered versions; v1 is champion through a recorded first-model decision."""
    from tasks.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("regfault") / "data", mlflow_tracking_uri=None,
                        prefect_api_url=None)
    v1, run1 = register(settings)
    v2, run2 = register(settings, "isolation_forest", n_estimators=20)
    record_decision(settings, v1, Decision(True, "first model: no champion yet", 0.5, None), run1, "pr_auc", None)
    return settings, v1, v2, run2


def test_a_decision_that_fails_before_the_aliases_leaves_the_old_champion(registry):
    settings, v1, v2, run2 = registry
    before = aliases(settings)
    too_long = Decision(True, "x" * 100_001, 0.9, 0.5)  # the registry refuses this tag value mid-record
    with pytest.raises(Exception, match="value"):
        record_decision(settings, v2, too_long, run2, "pr_auc", v1)
    assert aliases(settings) == before == {CHAMPION: v1, CHALLENGER: v1}
    half = mlflow_client(settings).get_model_version(settings.registered_model_name, v2)
    assert "promotion_decision" not in half.tags  # an unfinished record never reads as a decision


def test_promotion_records_reason_then_moves_aliases_and_rollback_is_one_call(registry):
    settings, v1, v2, run2 = registry
    name = settings.registered_model_name
    record_decision(settings, v2, Decision(True, "challenger 0.9 vs champion 0.5: challenger wins", 0.9, 0.5),
                    run2, "pr_auc", v1)
    assert aliases(settings) == {CHAMPION: v2, CHALLENGER: v2, PREVIOUS_CHAMPION: v1}
    promoted = mlflow_client(settings).get_model_version(name, v2)
    assert promoted.description == "promoted: challenger 0.9 vs champion 0.5: challenger wins"
    assert promoted.tags["previous_champion"] == v1 and promoted.tags["promotion_decision"] == "promoted"
    assert mlflow_client(settings).get_run(run2).data.tags["promotion_decision"] == "promoted"

    assert promote_manually(settings, None, "rollback drill") == (v1, v2)
    assert aliases(settings) == {CHAMPION: v1, CHALLENGER: v2, PREVIOUS_CHAMPION: v2}
    assert mlflow_client(settings).get_model_version(name, v1).description == "manual promotion: rollback drill"
    assert promote_manually(settings, v2, "forward again") == (v2, v1)
    with pytest.raises(ShopguardError, match="has no version 99"):
        promote_manually(settings, "99", "typo")
    assert aliases(settings)[CHAMPION] == v2


def test_missing_artifacts_fail_in_one_line_cache_nothing_and_recover(registry):
    settings, _, v2, _ = registry
    files = model_files(settings, v2)
    cache = settings.data_dir / "state" / "models"
    shutil.rmtree(cache, ignore_errors=True)
    aside = files.with_name(files.name + ".aside")
    files.rename(aside)
    try:
        with pytest.raises(ShopguardError, match=f"models:/{settings.registered_model_name}/{v2}") as failed:
            load_champion(settings)
        assert "\n" not in str(failed.value)
        assert not any(p.name == "model" for p in cache.rglob("*")) and not list(cache.rglob(".tmp-*"))
        # The gate treats this as an outage, not as "the champion cannot score": it refuses to decide.
        frame, labels = feature_day(DAY, users=50)
        version = mlflow_client(settings).get_model_version(settings.registered_model_name, v2)
        with pytest.raises(ShopguardError, match="promotion gate not run"):
            score_champion(settings, version, frame, labels["is_anomaly"].to_numpy(), k=5, budget_rate=0.05)
    finally:
        aside.rename(files)
    champion = load_champion(settings)  # the artifacts are back: scoring works again
    assert champion.version == v2 and (next(cache.rglob("MLmodel"))).is_file()


def test_model_saved_by_another_scikit_learn_cannot_score_so_the_gate_may_replace_it(tmp_path):
    from tasks.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", mlflow_tracking_uri=None, prefect_api_url=None)
    version, _ = register(settings, "isolation_forest", n_estimators=10)
    state = next(model_files(settings, version).rglob("state.npz"))
    with np.load(state) as npz:
        arrays = dict(npz)
    arrays["state__sklearn_version"] = np.asarray("0.24.2")
    np.savez(state, **arrays)  # as if written by an old release
    mlflow_client(settings).set_registered_model_alias(settings.registered_model_name, CHAMPION, version)
    with pytest.raises(ShopguardError, match="saved with scikit-learn 0.24.2 cannot be loaded"):
        load_champion(settings)
    frame, labels = feature_day(DAY, users=50)
    mv = mlflow_client(settings).get_model_version(settings.registered_model_name, version)
    score, why = score_champion(settings, mv, frame, labels["is_anomaly"].to_numpy(), k=5, budget_rate=0.05)
    assert score is None and "scikit-learn 0.24.2" in why


def test_a_version_registered_from_outside_the_artifact_store_is_never_loaded(registry, tmp_path):
    settings, _, v2, _ = registry
    foreign = tmp_path / "elsewhere" / "model"
    shutil.copytree(model_files(settings, v2), foreign)  # a valid model, just not the registry's own
    client = mlflow_client(settings)
    name = settings.registered_model_name
    before = aliases(settings)[CHAMPION]
    planted = client.create_model_version(name, source=foreign.as_uri()).version
    client.set_registered_model_alias(name, CHAMPION, planted)
    try:
        with pytest.raises(ShopguardError, match="outside the registry's artifact store"):
            load_champion(settings)
    finally:
        client.set_registered_model_alias(name, CHAMPION, before)
