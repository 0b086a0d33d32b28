"""The served model: pyfunc packaging, loading by alias (also in a fresh process), the contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from test_training_units import feature_day

from models.registry import make_detector
from tasks.features.catalogue import model_feature_names
from tasks.registry.packaging import log_and_register
from tasks.registry.promotion import CHAMPION
from tasks.registry.serving import OUTPUT_COLUMNS, score_with_reasons
from tasks.tracking import configure_mlflow, mlflow_client

NAMES = model_feature_names()


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from tasks.settings import Settings

    return Settings(data_dir=tmp_path_factory.mktemp("registry") / "data")


@pytest.fixture(scope="module")
def champion(settings):
    """An isolation forest fitted on one day, registered and aliased champion (shared: logging costs ~3 s)."""
    fit, _ = feature_day(date(2026, 1, 1), users=300, anomaly_share=0.0)
    detector = make_detector("isolation_forest", n_estimators=60).fit(fit[NAMES])
    client = mlflow_client(settings)
    run_id = client.create_run(configure_mlflow(settings)).info.run_id
    version = log_and_register(detector, run_id, fit, settings)
    client.set_registered_model_alias(settings.registered_model_name, CHAMPION, version.version)
    return detector, f"models:/{settings.registered_model_name}@{CHAMPION}"


def test_champion_alias_scores_like_the_in_memory_detector(settings, champion):
    detector, uri = champion
    day, _ = feature_day(date(2026, 1, 2), users=200)
    loaded = mlflow.pyfunc.load_model(uri).predict(day)  # extra key columns are ignored
    expected = score_with_reasons(detector, day)
    assert list(loaded.columns) == list(OUTPUT_COLUMNS) and len(loaded) == len(day)
    np.testing.assert_array_equal(loaded["anomaly_score"].to_numpy(), detector.decision_function(day[NAMES]))
    pd.testing.assert_frame_equal(loaded.reset_index(drop=True), expected.reset_index(drop=True))
    alerts = loaded[loaded["is_anomaly"]]
    assert len(alerts) >= 3 and alerts["reasons"].str.contains(r"(?:above|below) the usual ").all()
    assert (alerts["top_features"].str.count(";") <= 2).all()
    assert (loaded.loc[~loaded["is_anomaly"], "reasons"] == "").all()


def test_champion_loads_in_a_fresh_process(settings, champion, tmp_path):
    detector, uri = champion
    day, _ = feature_day(date(2026, 1, 3), users=50)
    day.to_parquet(tmp_path / "day.parquet")
    script = ("import sys, mlflow, pandas as pd, json\n"
              f"mlflow.set_tracking_uri({settings.tracking_uri!r})\n"
              f"out = mlflow.pyfunc.load_model({uri!r}).predict(pd.read_parquet({str(tmp_path / 'day.parquet')!r}))\n"
              "print(json.dumps(out['anomaly_score'].tolist()))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(scores, detector.decision_function(day[NAMES]), rtol=0, atol=0)


def test_served_model_names_missing_features(settings, champion):
    _, uri = champion
    day, _ = feature_day(date(2026, 1, 2), users=20)
    with pytest.raises(Exception, match="distinct_ips"):
        mlflow.pyfunc.load_model(uri).predict(day.drop(columns=["distinct_ips"]))


def test_logged_model_bundles_code_and_pins_requirements(settings, champion):
    _, uri = champion
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(settings.data_dir / "dl"))
    root = Path(local)
    assert (root / "code" / "models" / "base.py").exists()
    assert (root / "code" / "tasks" / "registry" / "serving.py").exists()
    assert not list(root.rglob("*.pkl"))
    requirements = (root / "requirements.txt").read_text()
    assert "mlflow==" in requirements and "scikit-learn==" in requirements


def test_configure_mlflow_does_not_leak_the_store_into_the_environment(settings, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    configure_mlflow(settings)
    assert "MLFLOW_TRACKING_URI" not in os.environ  # a later Settings() must not inherit this store
    assert mlflow.get_tracking_uri() == settings.tracking_uri


def test_registration_prints_nothing_and_logs_mlflow_notices_at_debug(settings, capfd, caplog):
    """MLflow's bare 'Successfully registered model' / 'Created version' prints stay off the console."""
    quiet = settings.model_copy(update={"registered_model_name": "shopguard-quiet"})
    fit, _ = feature_day(date(2026, 1, 1), users=100, anomaly_share=0.0)
    detector = make_detector("isolation_forest", n_estimators=10).fit(fit[NAMES])
    run_id = mlflow_client(quiet).create_run(configure_mlflow(quiet)).info.run_id
    capfd.readouterr()
    with caplog.at_level("DEBUG", logger="tasks.tracking"):
        version = log_and_register(detector, run_id, fit, quiet)
    out, err = capfd.readouterr()
    assert int(version.version) == 1
    assert "registered model" not in (out + err).lower() and "Created version" not in out + err
    notices = [r.getMessage() for r in caplog.records if r.name == "tasks.tracking" and r.levelname == "DEBUG"]
    assert any("Successfully registered model 'shopguard-quiet'" in m for m in notices), notices
    assert any("Created version '1'" in m for m in notices), notices


def test_experiment_carries_the_reviewers_saved_view_the_printed_url_opens(settings):
    """The runs-table URL names a saved view; the experiment holds it, in the UI's envelope, even if made before."""
    from tasks.mlflow_links import (
        REVIEW_METRICS,
        REVIEW_VIEW_KEY,
        SHARED_VIEW_TAG_PREFIX,
        runs_table_url,
    )

    client = mlflow_client(settings)
    experiment_id = configure_mlflow(settings)
    key = SHARED_VIEW_TAG_PREFIX + REVIEW_VIEW_KEY
    envelope = json.loads(client.get_experiment(experiment_id).tags[key])
    state = json.loads(envelope["state"])
    assert envelope["name"] and isinstance(envelope["createdAt"], int)
    assert state["orderByKey"] == "metrics.`val_average_precision`" and state["orderByAsc"] is False
    assert state["selectedColumns"][:1] == ["params.`detector`"]
    assert [f"metrics.`{m}`" for m in REVIEW_METRICS] == state["selectedColumns"][1:]
    assert runs_table_url("http://127.0.0.1:5000/", experiment_id) == (
        f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs?viewStateShareKey={REVIEW_VIEW_KEY}")

    client.delete_experiment_tag(experiment_id, key)  # an experiment from before the view existed
    assert configure_mlflow(settings) == experiment_id
    assert json.loads(json.loads(client.get_experiment(experiment_id).tags[key])["state"]) == state
