"""Batch scoring with a real registered champion (MLflow sqlite store in tmp_path)."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.errors import DataMissingError
from tasks.features.catalogue import model_feature_names
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic

DAY = date(2026, 1, 8)


def make_settings(data_dir: Path, **overrides):
    """Settings with their own MLflow store named explicitly: mlflow.set_tracking_uri (called by the
    training code) exports MLFLOW_TRACKING_URI, which a later Settings() would otherwise inherit."""
    from tasks.settings import Settings

    data_dir = data_dir.resolve()
    return Settings(data_dir=data_dir, mlflow_tracking_uri=f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}", **overrides)


def make_features(day: date, n: int = 300, seed: int = 0, shift: float = 0.0, outliers: int = 6) -> pd.DataFrame:
    """A feature table with the catalogue's columns; ``shift`` scales the first half of the features."""
    rng = np.random.default_rng(seed)
    names = model_feature_names()
    X = rng.gamma(4.0, 1.0, size=(n, len(names)))
    if shift:
        X[:, : len(names) // 2] *= 1.0 + shift
    X[:outliers] *= 8.0  # a few obvious outliers so every day has alerts
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "user_id", [f"u{seed:02d}{i:05d}" for i in range(n)])
    frame.insert(1, "date", day)
    frame["segment"] = "regular"
    frame["country"] = "DE"
    return frame


def register_champion(settings, reference: pd.DataFrame, seed: int = 0) -> str:
    """Fit a small isolation forest, log it with its reference sample, make it the champion."""
    from models.iforest import IsolationForestDetector
    from tasks.registry.packaging import log_and_register
    from tasks.tracking import configure_mlflow, mlflow_client

    experiment_id = configure_mlflow(settings)
    names = model_feature_names()
    detector = IsolationForestDetector(n_estimators=40, random_state=seed).fit(reference[names])
    client = mlflow_client(settings)
    run_id = client.create_run(experiment_id).info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.parquet"
        reference.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), "reference")
    version = log_and_register(detector, run_id, reference, settings).version
    client.set_terminated(run_id)
    client.set_registered_model_alias(settings.registered_model_name, "champion", version)
    return str(version)


def write_features(settings, day: date, frame: pd.DataFrame) -> None:
    write_partition_atomic(frame, DataLayout(settings.data_dir).features(day))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data root with a registered champion (real MLflow sqlite store) and one day of features."""
    settings = make_settings(tmp_path_factory.mktemp("scoring") / "data")
    reference = pd.concat([make_features(DAY - timedelta(days=d), seed=d) for d in range(1, 4)])
    version = register_champion(settings, reference)
    write_features(settings, DAY, make_features(DAY, seed=11))
    return settings, version, reference


def test_guess_kind_reads_the_top_features_in_order():
    from tasks.scoring.kinds import UNKNOWN_KIND, guess_kind

    assert guess_kind("payment_failure_rate;n_views") == "card_testing"
    assert guess_kind("n_views;payment_failure_rate") == "scraper_bot"
    assert guess_kind("new_devices;new_countries") == "account_takeover"
    assert guess_kind("reviews_per_purchase") == "brushing"
    assert guess_kind("n_coupon_applies") == "coupon_abuse"
    assert guess_kind("distinct_items;n_views") == "click_fraud"
    assert guess_kind("") == UNKNOWN_KIND
    assert guess_kind("age_band") == UNKNOWN_KIND


def test_every_kind_rule_matches_a_catalogue_feature():
    from tasks.scoring.kinds import KIND_RULES

    names = model_feature_names()
    for kind, fragments, _hint in KIND_RULES:
        for fragment in fragments:
            assert any(fragment in name for name in names), f"{kind}: {fragment!r} matches no feature"


def test_rank_alerts_orders_flagged_users_by_score():
    from tasks.scoring.scoring import ALERT_COLUMNS, rank_alerts

    scores = pd.DataFrame({
        "user_id": ["a", "b", "c", "d"], "date": [DAY] * 4, "anomaly_score": [0.9, 0.2, 1.5, 0.7],
        "is_anomaly": [True, False, True, True],
        "top_features": ["n_views", "", "payment_failure_rate;n_views", "new_ips"],
        "reasons": ["n_views 900 (usual 12)", "", "payment_failure_rate 0.9 (usual 0)", "new_ips 4 (usual 0)"],
        "model_version": "3",
    })
    alerts = rank_alerts(scores, threshold=0.5)
    assert list(alerts.columns) == list(ALERT_COLUMNS)
    assert alerts["user_id"].tolist() == ["c", "a", "d"]
    assert alerts["severity"].tolist() == pytest.approx([3.0, 1.8, 1.4])  # score / threshold
    assert alerts["score_percentile"].tolist() == [0.75, 0.5, 0.25]  # share of the day's users below
    assert rank_alerts(scores)["severity"].isna().all()  # no threshold known: no made-up severity
    assert alerts["rank"].tolist() == [1, 2, 3]
    assert alerts["kind_guess"].tolist() == ["card_testing", "scraper_bot", "account_takeover"]


class _WrongRowsModel:
    def predict(self, frame):
        return pd.DataFrame({"anomaly_score": [1.0], "is_anomaly": [True], "top_features": ["x"], "reasons": ["y"]})


def test_a_model_breaking_the_output_contract_is_named():
    from tasks.scoring.scoring import ModelOutputError, score_features

    with pytest.raises(ModelOutputError, match="returned 1 rows for 3 inputs"):
        score_features(_WrongRowsModel(), make_features(DAY, n=3, outliers=0), "7")


def test_score_flow_writes_every_user_day_and_ranked_alerts(prefect_harness, world):
    from flows.daily import score_flow
    from tasks.run_status import read_day_status

    settings, version, _ = world
    layout = DataLayout(settings.data_dir)
    summary = score_flow(day=DAY, settings=settings)

    features = pd.read_parquet(layout.features(DAY) / "part-0.parquet", columns=["user_id"])
    scores = pd.read_parquet(layout.scores(DAY) / "part-0.parquet")
    alerts = pd.read_parquet(layout.alerts(DAY) / "part-0.parquet")
    assert sorted(scores["user_id"]) == sorted(features["user_id"])
    assert (scores["model_version"] == version).all()
    assert scores["anomaly_score"].notna().all()
    assert len(alerts) == int(scores["is_anomaly"].sum()) == summary["alerts"] > 0
    assert alerts["anomaly_score"].is_monotonic_decreasing
    assert (alerts["model_version"] == version).all()
    assert (alerts["reasons"].str.len() > 0).all()  # flagged users always say why
    assert "alerts.csv" in {p.name for p in layout.alerts(DAY).iterdir()}
    assert (alerts["severity"] > 1.0).all()  # flagged means score above the threshold
    assert alerts["score_percentile"].between(0, 1).all() and alerts["score_percentile"].is_monotonic_decreasing
    page = (layout.reports / "alerts" / f"date={DAY}.html").read_text()
    assert "severity (&times; threshold)" in page and "../index.html" in page
    assert read_day_status(layout, DAY)["scoring"]["model_version"] == version


def test_rescoring_a_day_replaces_its_outputs(prefect_harness, world):
    from flows.daily import score_flow

    settings, version, reference = world
    layout = DataLayout(settings.data_dir)
    score_flow(day=DAY, settings=settings)
    first = pd.read_parquet(layout.scores(DAY) / "part-0.parquet")
    score_flow(day=DAY, settings=settings)
    again = pd.read_parquet(layout.scores(DAY) / "part-0.parquet")
    pd.testing.assert_frame_equal(first, again)
    assert [p.name for p in layout.scores(DAY).iterdir()] == ["part-0.parquet"]
    assert not [p for p in layout.root.joinpath("scores").iterdir() if p.name.startswith(".")]

    # a new champion rescored the day: every row now names the new version, none is duplicated
    new_version = register_champion(settings, reference, seed=1)
    score_flow(day=DAY, settings=settings)
    rescored = pd.read_parquet(layout.scores(DAY) / "part-0.parquet")
    assert new_version != version
    assert len(rescored) == len(first) and (rescored["model_version"] == new_version).all()


def test_no_features_for_the_day_is_one_clear_line(prefect_harness, world):
    from flows.daily import score_flow

    settings, _, _ = world
    with pytest.raises(DataMissingError, match=r"^no features for 2026-02-01: .*shopguard features --date 2026-02-01"):
        score_flow(day=date(2026, 2, 1), settings=settings)


def test_no_champion_is_one_clear_line(prefect_harness, tmp_path):
    from flows.daily import score_flow

    settings = make_settings(tmp_path / "data")
    write_features(settings, DAY, make_features(DAY, n=20))
    with pytest.raises(DataMissingError, match="no champion model: models:/shopguard-detector@champion"):
        score_flow(day=DAY, settings=settings)
    assert not DataLayout(settings.data_dir).scores(DAY).exists()


class _FailingModel:
    def predict(self, frame):
        raise ValueError("input lacks 2 model feature(s): n_views, n_events\nmore detail")


def test_a_model_that_cannot_score_says_why_in_one_line():
    from tasks.scoring.scoring import ModelOutputError, score_features

    with pytest.raises(ModelOutputError, match=r"^model version 7 could not score the features: input lacks 2 model feature\(s\): n_views, n_events$"):
        score_features(_FailingModel(), make_features(DAY, n=3, outliers=0), "7")
