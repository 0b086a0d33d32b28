"""The features flow on the real Prefect engine, and the `shopguard features` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from test_features import DAY, event, small_world, write_events, write_users

from flows.features import features_flow
from tasks.errors import DataMissingError
from tasks.features.catalogue import model_feature_names
from tasks.features.store import load_feature_days
from tasks.layout import DataLayout
from tasks.run_status import read_day_status


@pytest.mark.slow
def test_features_flow_writes_the_day_and_records_status(prefect_harness, settings):
    layout = DataLayout(settings.data_dir)
    write_users(layout, [{"user_id": u, "signup_ts": "2025-06-01T00:00:00Z"} for u in ("a", "b", "c", "d")])
    small_world(layout, [DAY - timedelta(days=1), DAY])

    result = features_flow(day=DAY, settings=settings, window_days=2)

    assert result.path == layout.features(DAY) / "part-0.parquet" and result.path.exists()
    features = load_feature_days(layout, [DAY])
    assert result.rows == len(features) == 4
    assert features[model_feature_names()].notna().all().all()
    status = read_day_status(layout, DAY)["features"]
    assert status["rows"] == 4 and status["window_days"] == 2

    rerun = features_flow(day=DAY, settings=settings)  # default window from settings; a rerun replaces
    assert rerun.window_days == settings.features.window_days
    assert load_feature_days(layout, [DAY]).equals(features)


@pytest.mark.slow
def test_features_flow_without_validated_data_fails_naming_the_day(prefect_harness, settings):
    write_users(DataLayout(settings.data_dir), [{"user_id": "a", "signup_ts": "2025-06-01T00:00:00Z"}])
    with pytest.raises(DataMissingError, match=str(DAY)):
        features_flow(day=DAY, settings=settings)


@pytest.mark.slow
def test_cli_features_command(tmp_path):
    """One real CLI run (it starts its own temporary Prefect server, ~15 s); errors are covered above."""
    layout = DataLayout(tmp_path / "data")
    write_users(layout, [{"user_id": "a", "signup_ts": "2025-06-01T00:00:00Z"}])
    write_events(layout, DAY, [event("a", "10:00:00"), event("a", "10:00:30", "add_to_cart")])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_", "MLFLOW_"))}
    command = [sys.executable, "-m", "flows.cli", "--data-dir", str(layout.root), "features"]

    built = subprocess.run([*command, "--date", str(DAY), "--window-days", "3"], capture_output=True, text=True,
                           env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    assert load_feature_days(layout, [DAY])["n_cart_adds"].tolist() == [1.0]
    assert json.loads((layout.runs / f"date={DAY}.json").read_text())["features"]["window_days"] == 3
