"""Drift reports (real Evidently), the retrain rule and cooldown, the on-call page."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from test_scoring import DAY, make_features, make_settings, register_champion, write_features

from tasks.features.catalogue import model_feature_names
from tasks.layout import DataLayout
from tasks.monitoring.alert_rate import alert_rate_band
from tasks.monitoring.drift import (
    DriftSummary,
    build_drift_report,
    column_drift,
    drifted_columns_share,
)
from tasks.monitoring.retrain_launch import retrain_idempotency_key
from tasks.monitoring.retrain_rule import decide_retrain, drift_retrain_days, record_drift_retrain
from tasks.settings import MonitoringSettings

RULES = MonitoringSettings(drift_share_threshold=0.3, column_drift_threshold=0.1, score_drift_threshold=0.25,
                           alert_rate_band=3.0, retrain_cooldown_days=3)


def summary(drifted: int = 0, features: int = 40, score_drifted: bool = False, alert_rate: float = 0.01,
            band: tuple[float, float] | None = (0.005, 0.03)) -> DriftSummary:
    return DriftSummary(feature_count=features, drifted_features=[f"f{i}" for i in range(drifted)],
                        drift_share=drifted / features, score_drift=0.3 if score_drifted else 0.02,
                        score_drifted=score_drifted, alert_rate=alert_rate, trailing_alert_rate=0.01,
                        alert_rate_band=band)


# -- the retrain rule -----------------------------------------------------------------------------
@pytest.mark.parametrize("case, expected_reason", [
    (summary(drifted=13), "13 of 40 features drifted"),
    (summary(drifted=13, score_drifted=True), "score distribution drifted too"),
    (summary(alert_rate=0.2), "alert rate 20.00% outside its usual band"),
    (summary(alert_rate=0.001), "alert rate 0.10% outside its usual band"),
])
def test_drift_starts_a_retrain(case, expected_reason):
    decision = decide_retrain(case, DAY, retrain_days=[], monitoring=RULES)
    assert decision.retrain and decision.drift_detected
    assert any(expected_reason in r for r in decision.reasons), decision.reasons


@pytest.mark.parametrize("case", [
    summary(drifted=12),  # 30% is not more than 30%
    summary(drifted=5, score_drifted=True),  # score drift alone only reports
    summary(alert_rate=0.02),
    summary(alert_rate=0.5, band=None),  # no trailing history: the alert-rate check abstains
])
def test_an_ordinary_day_does_not_retrain(case):
    decision = decide_retrain(case, DAY, retrain_days=[], monitoring=RULES)
    assert not decision.retrain and not decision.drift_detected
    assert decision.reasons == ["no drift"]


def test_cooldown_allows_one_drift_retrain_per_n_days():
    drifted = summary(drifted=20)
    within = decide_retrain(drifted, DAY, retrain_days=[DAY - timedelta(days=2)], monitoring=RULES)
    assert not within.retrain and within.drift_detected and within.blocked_by_cooldown
    assert "cooldown" in within.reasons[-1]
    same_day = decide_retrain(drifted, DAY, retrain_days=[DAY], monitoring=RULES)
    assert not same_day.retrain and "already ran" in same_day.reasons[-1]
    after = decide_retrain(drifted, DAY, retrain_days=[DAY - timedelta(days=3)], monitoring=RULES)
    assert after.retrain


def test_cooldown_keeps_every_day_so_a_backfill_does_not_weaken_it(tmp_path):
    layout = DataLayout(tmp_path)
    assert drift_retrain_days(layout) == []
    record_drift_retrain(layout, DAY)
    record_drift_retrain(layout, DAY - timedelta(days=10))  # backfilling an older day afterwards
    record_drift_retrain(layout, DAY)  # recorded once
    assert drift_retrain_days(layout) == [DAY - timedelta(days=10), DAY]
    later = decide_retrain(summary(drifted=20), DAY + timedelta(days=1), drift_retrain_days(layout), RULES)
    assert not later.retrain and f"ran for {DAY}" in later.reasons[-1]


def test_alert_rate_band_needs_history_and_floors_a_zero_median():
    assert alert_rate_band([0.01, 0.01], band=3.0) is None
    low, high = alert_rate_band([0.01, 0.02, 0.03], band=2.0)
    assert (low, high) == pytest.approx((0.01, 0.04))
    assert alert_rate_band([0.0, 0.0, 0.0], band=3.0)[1] > 0


# -- Evidently ------------------------------------------------------------------------------------
def test_drift_report_finds_the_shifted_features_and_scores():
    everything = model_feature_names()
    middle = len(everything) // 2  # make_features(shift=...) doubles the features before this one
    names = everything[middle - 6: middle + 6]  # a dozen columns, six shifted: same code, faster
    rng = np.random.default_rng(3)
    reference = make_features(DAY, n=1000, seed=1, outliers=0)
    reference["anomaly_score"] = rng.normal(size=len(reference))
    current = make_features(DAY, n=500, seed=2, shift=1.0, outliers=0)
    current["anomaly_score"] = rng.normal(loc=1.0, size=len(current))
    snapshot = build_drift_report(reference, current, names, RULES).dict()
    drift = column_drift(snapshot, reference, current, names, RULES)
    half = 6
    assert all(drift.drift_scores[c] > 0.3 for c in names[:half])
    assert all(drift.drift_scores[c] < 0.25 for c in names[half:])  # sampling noise only
    # Evidently's DriftedColumnsCount (running our PSI StatTest) agrees with the per-column PSI
    count, share = drifted_columns_share(snapshot)
    assert count == len(drift.drifted_features) and share == drift.drift_share
    assert set(drift.drifted_features) == {c for c in names if drift.drift_scores[c] >= RULES.column_drift_threshold}
    ranked = [drift.drift_scores[c] for c in drift.drifted_features]
    assert ranked == sorted(ranked, reverse=True)  # largest PSI first
    assert drift.drift_share == pytest.approx(len(drift.drifted_features) / len(names))
    assert drift.drift_share > RULES.drift_share_threshold
    assert drift.score_drifted and drift.score_drift > RULES.score_drift_threshold

    same = make_features(DAY, n=500, seed=4, outliers=0)
    same["anomaly_score"] = rng.normal(size=len(same))
    calm = column_drift(build_drift_report(reference, same, names, RULES).dict(), reference, same, names, RULES)
    assert calm.drift_share < RULES.drift_share_threshold and not calm.score_drifted


# -- the monitor flow against a real champion -------------------------------------------------------
def test_monitor_flow_flags_a_shifted_day_and_not_an_ordinary_one(prefect_harness, tmp_path):
    from flows.daily import monitor_flow, score_flow

    settings = make_settings(tmp_path / "data")
    layout = DataLayout(settings.data_dir)
    register_champion(settings, pd.concat([make_features(DAY - timedelta(days=d), seed=d) for d in (1, 2, 3)]))
    ordinary, shifted = DAY, DAY + timedelta(days=1)
    write_features(settings, ordinary, make_features(ordinary, seed=20))
    write_features(settings, shifted, make_features(shifted, seed=21, shift=1.5))
    results = {}
    for day in (ordinary, shifted):
        score_flow(day=day, settings=settings)
        results[day] = monitor_flow(day=day, settings=settings)

    assert not results[ordinary].decision.retrain
    assert results[shifted].decision.retrain
    assert results[shifted].summary.drift_share > settings.monitoring.drift_share_threshold
    for day in (ordinary, shifted):
        report = layout.drift_report(day)
        assert 10_000 < (report / "report.html").stat().st_size < 5_000_000  # was 6.7 MB with the preset
        assert json.loads((report / "report.json").read_text())["metrics"]
        assert json.loads((report / "summary.json").read_text())["feature_count"] == len(model_feature_names())
        wrapper = (report / "index.html").read_text()
        assert f"Drift report for {day}" in wrapper and 'href="../../index.html"' in wrapper
        assert '<iframe src="report.html"' in wrapper and wrapper.count("<svg") >= 2  # score + moved features
    page = layout.oncall_index.read_text()
    assert f"drift/date={shifted}/index.html" in page and f"drift/date={ordinary}/index.html" in page
    # monitor alone does not start the retrain: the page must not say one was not started
    assert ">retrain due</span>" in page and ">OK</span>" in page
    assert "a retrain was not started" not in page


def test_retrain_idempotency_key_names_the_day():
    assert retrain_idempotency_key(DAY, "run-1") == "drift-retrain-2026-01-08-run-1"
    assert retrain_idempotency_key(DAY, "run-1") != retrain_idempotency_key(DAY, "run-2")


def test_summary_headline_features_exist_in_the_catalogue():
    from tasks.monitoring.drift import SUMMARY_FEATURES

    assert set(SUMMARY_FEATURES) <= set(model_feature_names())
