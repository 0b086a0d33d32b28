"""Code tests of the training pieces (no Prefect, no MLflow), plus the synthetic window builder.

``write_feature_window`` is shared with the other training/registry tests: catalogue-shaped
feature partitions with planted anomalies and their labels, written the way the pipeline does.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tasks.errors import DataMissingError, ShopguardError
from tasks.features.catalogue import model_feature_names
from tasks.features.store import write_day_features
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic
from tasks.registry.promotion import GateScore, decide_promotion
from tasks.training.metrics import validation_metrics
from tasks.training.objective import TrialData, evaluate_trial, top_k_overlap
from tasks.training.window import attach_labels, load_window, plan_window

END = date(2026, 1, 7)
KINDS = ("scraper", "card_testing", "account_takeover")


def feature_day(day: date, users: int = 400, anomaly_share: float = 0.04, seed: int = 0,
                strength: float = 6.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One day's feature rows (catalogue columns) and labels; anomalies scale a few features up."""
    rng = np.random.default_rng(seed + day.toordinal())
    names = model_feature_names()
    X = rng.gamma(4.0, 1.0, size=(users, len(names)))
    n_bad = max(3, int(users * anomaly_share))
    kinds = np.array([KINDS[i % len(KINDS)] for i in range(n_bad)])
    for i, kind in enumerate(kinds):
        start = KINDS.index(kind) * 5
        X[i, start:start + 5] *= strength
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(users)])
    frame.insert(1, "date", day)
    frame["segment"] = "regular"
    frame["country"] = "DE"
    frame["platform_volume_ratio"] = 1.0  # day-level context, not a model input
    labels = pd.DataFrame({"user_id": frame["user_id"], "date": day, "is_anomaly": np.arange(users) < n_bad,
                           "anomaly_type": pd.array(list(kinds) + [None] * (users - n_bad), dtype="string")})
    return frame, labels


def write_feature_window(settings, end: date = END, days: int = 7, labels: bool = True, **kw) -> list[date]:
    layout = DataLayout(settings.data_dir)
    written = []
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        frame, day_labels = feature_day(day, **kw)
        write_day_features(layout, day, frame)
        if labels:
            write_partition_atomic(day_labels, layout.labels(day).parent, filename="labels.parquet")
        written.append(day)
    return written


def test_plan_window_splits_fit_and_held_out_days():
    window = plan_window(END, window_days=7, validation_days=2)
    assert window.fit_days[0] == date(2026, 1, 1) and window.fit_days[-1] == date(2026, 1, 5)
    assert window.validation_days == (date(2026, 1, 6), date(2026, 1, 7))
    assert window.label == "2026-01-01..2026-01-07"
    with pytest.raises(ShopguardError, match="validation_days"):
        plan_window(END, window_days=2, validation_days=2)


def test_load_window_drops_known_anomalies_and_keeps_raw_data(settings):
    write_feature_window(settings, users=200)
    layout = DataLayout(settings.data_dir)
    before = sorted(p.stat().st_mtime_ns for p in (settings.data_dir / "raw").rglob("*.parquet"))
    data = load_window(layout, plan_window(END, 7, 2), model_feature_names())
    assert data.has_labels
    assert not data.fit["is_anomaly"].fillna(False).any()
    assert data.dropped_known_anomalies == 5 * 8
    assert len(data.validation) == 2 * 200 and data.validation["is_anomaly"].sum() == 2 * 8
    assert sorted(p.stat().st_mtime_ns for p in (settings.data_dir / "raw").rglob("*.parquet")) == before


def test_load_window_without_labels_uses_label_free_and_names_missing_days(settings):
    write_feature_window(settings, labels=False, users=100)
    data = load_window(DataLayout(settings.data_dir), plan_window(END, 7, 2), model_feature_names())
    assert not data.has_labels and data.labels is None
    with pytest.raises(DataMissingError, match="no feature partitions"):
        load_window(DataLayout(settings.data_dir), plan_window(date(2025, 6, 1), 7, 2), model_feature_names())


def test_attach_labels_leaves_unlabelled_rows_unknown():
    frame, labels = feature_day(END, users=10)
    merged = attach_labels(frame, labels.iloc[:4])
    assert merged["is_anomaly"].isna().sum() == 6
    assert list(merged["user_id"]) == list(frame["user_id"])


def test_validation_metrics_rank_a_perfect_scorer_first():
    y = np.array([0] * 95 + [1] * 5)
    perfect = validation_metrics(y, y.astype(float), threshold=0.5, k=5)
    assert perfect["val_roc_auc"] == 1.0 and perfect["val_precision_at_k"] == 1.0
    assert perfect["alert_rate"] == pytest.approx(0.05)
    reversed_ = validation_metrics(y, -y.astype(float), threshold=0.5, k=5)
    assert reversed_["val_roc_auc"] == 0.0 and reversed_["val_recall_at_k"] == 0.0
    assert set(validation_metrics(None, y.astype(float), 0.5, 5)) == {"alert_rate"}


def test_top_k_overlap():
    a = np.arange(10.0)
    assert top_k_overlap(a, a, 3) == 1.0
    assert top_k_overlap(a, -a, 3) == 0.0


def test_evaluate_trial_scores_planted_anomalies_and_label_free_fallback():
    fit, _ = feature_day(date(2026, 1, 1), users=400, anomaly_share=0.0)
    val, labels = feature_day(date(2026, 1, 2), users=400)
    names = model_feature_names()
    labelled = TrialData(fit[names], val[names], labels["is_anomaly"].to_numpy(), 99.0, 20, 0)
    result = evaluate_trial("gaussian", {}, labelled)
    assert result.objective == result.metrics["val_average_precision"] > 0.8
    assert result.metrics["fit_seconds"] > 0 and 0 < result.metrics["alert_rate"] < 0.2
    unlabelled = TrialData(fit[names], val[names], None, 99.0, 20, 0)
    fallback = evaluate_trial("gaussian", {}, unlabelled)
    assert 0 < fallback.objective == fallback.metrics["label_free_stability"] <= 1
    assert "val_roc_auc" not in fallback.metrics


@pytest.mark.parametrize(
    ("challenger", "champion", "promote", "reason"),
    [
        (GateScore(0.50, 0.01), None, True, "first model"),
        (GateScore(0.80, 0.02), GateScore(0.70, 0.02), True, "challenger wins"),
        (GateScore(0.702, 0.02), GateScore(0.70, 0.02), False, "not better by the margin"),
        (GateScore(0.90, 0.20), GateScore(0.70, 0.02), False, "exceeds the bound"),
        (GateScore(math.nan, 0.02), GateScore(0.70, 0.02), False, "no usable labels"),
    ],
)
def test_gate_decision_rules(challenger, champion, promote, reason):
    decision = decide_promotion(challenger, champion, margin=0.005, max_alert_rate=0.05)
    assert decision.promote is promote
    assert reason in decision.reason


def test_gate_promotes_when_champion_cannot_score():
    decision = decide_promotion(GateScore(0.1, 0.01), None, 0.005, 0.05, champion_error="KeyError: n_events")
    assert decision.promote and "cannot score" in decision.reason


def _trial(objective: float, alert_rate: float):
    from tasks.training.objective import TrialResult

    return TrialResult(detector_name="gaussian", params={}, metrics={"alert_rate": alert_rate},
                       objective=objective, detector=None, val_scores=np.zeros(1))


def test_sweep_prefers_a_trial_the_gate_could_accept():
    from tasks.training.sweep import better_trial

    loud_but_sharp = _trial(objective=0.99, alert_rate=0.40)
    quiet = _trial(objective=0.90, alert_rate=0.02)
    assert better_trial(quiet, loud_but_sharp, max_alert_rate=0.05)
    assert not better_trial(loud_but_sharp, quiet, max_alert_rate=0.05)
    assert better_trial(loud_but_sharp, quiet, max_alert_rate=None)  # no bound: objective alone
    assert better_trial(_trial(0.95, 0.03), quiet, max_alert_rate=0.05)
    assert better_trial(quiet, None, max_alert_rate=0.05)


def test_detectors_setting_accepts_the_readme_comma_form(monkeypatch):
    from tasks.settings import Settings

    monkeypatch.setenv("SHOPGUARD_TRAINING__DETECTORS", "gaussian, ecod")
    assert Settings(mlflow_tracking_uri=None).training.detectors == ["gaussian", "ecod"]
    monkeypatch.setenv("SHOPGUARD_TRAINING__DETECTORS", '["gmm"]')
    assert Settings(mlflow_tracking_uri=None).training.detectors == ["gmm"]
