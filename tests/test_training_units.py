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
    perfect = validation_metrics(y, y.astype(float), threshold=0.5, k=5, budget_rate=0.05)
    assert perfect["val_roc_auc"] == 1.0 and perfect["val_precision_at_k"] == 1.0
    assert perfect["alert_rate"] == pytest.approx(0.05)
    reversed_ = validation_metrics(y, -y.astype(float), threshold=0.5, k=5, budget_rate=0.05)
    assert reversed_["val_roc_auc"] == 0.0 and reversed_["val_recall_at_k"] == 0.0
    assert perfect["val_recall_at_budget"] == perfect["val_precision_at_budget"] == 1.0
    assert set(validation_metrics(None, y.astype(float), 0.5, 5, 0.05)) == {"alert_rate"}


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
    assert result.objective == result.metrics["val_recall_at_budget"] > 0.8
    assert result.metrics["fit_seconds"] > 0 and 0 < result.metrics["alert_rate"] < 0.2
    unlabelled = TrialData(fit[names], val[names], None, 99.0, 20, 0)
    fallback = evaluate_trial("gaussian", {}, unlabelled)
    assert 0 < fallback.objective == fallback.metrics["label_free_stability"] <= 1
    assert "val_roc_auc" not in fallback.metrics
    ensemble = evaluate_trial("label_free", {}, unlabelled)  # the family offered when no day has labels
    assert 0 < ensemble.objective == ensemble.metrics["label_free_stability"] <= 1


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


def _trial(name: str, y: np.ndarray, scores: np.ndarray, threshold: float):
    from tasks.training.objective import TrialResult

    metrics = validation_metrics(y, scores, threshold, k=20, budget_rate=0.05)
    return TrialResult(detector_name=name, params={}, metrics=metrics, objective=metrics["val_recall_at_budget"],
                       detector=None, val_scores=scores)


def test_sweep_chooses_at_the_operating_point_not_by_default_alert_rate():
    """The real-table case: ~10% fraud, the sharper model's default threshold flags far more than the cap."""
    from tasks.training.sweep import better_trial

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100), np.zeros(900)].astype(bool)
    sharp = np.where(y, 3.0, 0.0) + rng.normal(size=1000)   # ranks fraud well...
    dull = np.where(y, 0.8, 0.0) + rng.normal(size=1000)    # ...this one much less so
    loud = _trial("sharp", y, sharp, threshold=0.5)          # default threshold flags ~35%
    quiet = _trial("dull", y, dull, threshold=2.5)           # default threshold flags ~1%
    assert loud.metrics["alert_rate"] > 0.3 > 0.05 > quiet.metrics["alert_rate"]
    assert loud.objective > quiet.objective
    assert better_trial(loud, quiet) and not better_trial(quiet, loud) and better_trial(quiet, None)


def test_budget_threshold_meets_the_budget_and_recall_is_reported_per_kind():
    from tasks.training.metrics import budget_metrics, budget_threshold

    scores = np.arange(200.0)
    assert (scores > budget_threshold(scores, 0.05)).sum() == 10
    assert (np.ones(50) > budget_threshold(np.ones(50), 0.05)).sum() == 0  # ties: never over the budget
    y = np.zeros(200, dtype=bool)
    y[[199, 198, 10, 11]] = True  # two found in the top 10, two ranked low
    kinds = np.array([None] * 200, dtype=object)
    kinds[[199, 10]] = "card_testing"
    kinds[[198, 11]] = "scraper"
    kinds[197] = "ignored: not labelled anomalous"
    out = budget_metrics(y, scores, 0.05, kinds)
    assert out["val_recall_at_budget"] == 0.5 and out["val_precision_at_budget"] == 0.2
    assert out["val_recall_at_budget__card_testing"] == out["val_recall_at_budget__scraper"] == 0.5
    assert not any("ignored" in key for key in out)


def test_no_future_day_is_ever_in_a_fit(settings):
    """Every row any detector fits on (label-free or label-aware) is from a day before every held-out row."""
    from tasks.training.steps import trial_data
    from tasks.training.window import check_time_order

    write_feature_window(settings, users=200, days=7)
    data = load_window(DataLayout(settings.data_dir), plan_window(END, 7, 2), model_feature_names())
    first_held_out = min(data.validation["date"])
    assert data.has_fit_labels and first_held_out == date(2026, 1, 6)
    assert max(data.fit["date"]) < first_held_out and max(data.labelled_fit["date"]) < first_held_out
    # Known anomalies: out of the label-free fit, in the label-aware one, from the fit days only.
    assert not data.fit["is_anomaly"].fillna(False).any()
    assert int(data.fit_labels.sum()) == data.dropped_known_anomalies == 5 * 8
    trials = trial_data(data, settings)
    assert trials.X_fit.index.equals(data.fit.index) and trials.X_fit_labelled.index.equals(data.labelled_fit.index)
    assert len(trials.X_val) == len(data.validation) and trials.y_fit is not None and trials.y_fit.sum() == 40
    rung = trials.subsample(0.3)
    assert set(rung.X_fit.index) <= set(trials.X_fit.index) and rung.y_fit.sum() == 12 and not rung.y_fit.all()
    with pytest.raises(ShopguardError, match="not before the held-out"):
        check_time_order(data.validation["date"], data.fit["date"], "reversed")


def test_label_aware_trial_fits_on_labelled_fit_rows_and_label_free_without_labels(settings):
    from tasks.training.search_space import available_families
    from tasks.training.steps import trial_data

    write_feature_window(settings, users=200, days=7)
    data = load_window(DataLayout(settings.data_dir), plan_window(END, 7, 2), model_feature_names())
    trials = trial_data(data, settings)
    boosted = evaluate_trial("gradient_boosting", {"max_iter": 30}, trials)
    assert boosted.objective == boosted.metrics["val_recall_at_budget"] > 0.9
    assert {f"val_recall_at_budget__{kind}" for kind in KINDS} <= set(boosted.metrics)
    assert boosted.metrics["alert_rate"] <= settings.training.max_alert_rate  # threshold meets the budget
    assert boosted.detector.supervised and len(boosted.detector.feature_names_in_) == len(model_feature_names())
    no_labels = TrialData(trials.X_fit, trials.X_val, trials.y_val, 99.0, 20, 0)
    with pytest.raises(ValueError, match="too few labelled anomalies"):
        evaluate_trial("xgbod", {}, no_labels)
    assert available_families(["gaussian", "mlp"], with_labels=False) == ["gaussian"]
    assert available_families(["gaussian"], with_labels=True) == ["gaussian", "gradient_boosting", "xgbod"]
    # Held-out days without labels: the fixed label-free ensemble joins, label-aware families never do.
    assert available_families(["gaussian"], with_labels=False, unlabelled_holdout=True) == ["gaussian", "label_free"]


def test_sweep_tries_both_kinds_and_prunes_on_the_objective(settings):
    import optuna

    from tasks.training.objective import model_kind
    from tasks.training.steps import trial_data
    from tasks.training.sweep import _rung, _selection_key, run_sweep

    write_feature_window(settings, users=150, days=7)
    data = trial_data(load_window(DataLayout(settings.data_dir), plan_window(END, 7, 2), model_feature_names()),
                      settings)
    records: list[tuple[str, str, dict]] = []

    def record(number, name, params, result, state, error):
        records.append((name, state, {} if result is None else result.metrics))

    outcome = run_sweep(data, ["gaussian", "gradient_boosting"], n_trials=4, n_jobs=1, seed=0, record=record)
    assert set(outcome.best_by_kind) == {"label-aware", "label-free"}
    # The best of both kinds, by the sweep's own ranking (objective, then average precision on ties).
    assert _selection_key(outcome.best) == max(_selection_key(r) for r in outcome.best_by_kind.values())
    assert model_kind(outcome.best.detector_name) in outcome.best_by_kind

    # Rung 0 reports the sweep's objective; below the median of earlier trials the trial is pruned
    # and recorded with its rung metrics.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2,
                                                                                           n_warmup_steps=0))
    distributions = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(2):  # earlier trials whose rung objective no detector can reach
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=distributions, value=2.0,
                                                  intermediate_values={0: 2.0}))
    records.clear()
    with pytest.raises(optuna.TrialPruned, match="rung 0"):
        _rung(study.ask(), "gaussian", {}, data, record)
    [(name, state, metrics)] = records
    assert state == "pruned" and 0 < metrics["val_recall_at_budget"] <= 1


def test_detectors_setting_accepts_the_readme_comma_form(monkeypatch):
    from tasks.settings import Settings

    monkeypatch.setenv("SHOPGUARD_TRAINING__DETECTORS", "gaussian, ecod")
    assert Settings(mlflow_tracking_uri=None).training.detectors == ["gaussian", "ecod"]
    monkeypatch.setenv("SHOPGUARD_TRAINING__DETECTORS", '["gmm"]')
    assert Settings(mlflow_tracking_uri=None).training.detectors == ["gmm"]
