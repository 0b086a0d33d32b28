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
