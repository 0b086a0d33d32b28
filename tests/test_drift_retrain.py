"""The drift retrain's own rule check under the guard, its records and its persisted result.

The retrain itself is a plain callable here (what flows.train passes in is the real sweep, run by
tests/test_drift_automation.py); these check what the retrain decides and records around it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import pytest

from tasks.layout import DataLayout
from tasks.monitoring.drift import DriftSummary
from tasks.monitoring.drift_event import data_root_resource_id, drift_event_id, drift_event_payload
from tasks.monitoring.drift_retrain import read_retrain_result, recorded_summary, run_drift_retrain
from tasks.monitoring.retrain_rule import RetrainDecision, drift_retrain_days
from tasks.run_status import read_day_record, update_day_status
from tasks.settings import Settings
from tasks.training.result import TrainResult

DAY = date(2026, 1, 7)
DRIFTED = DriftSummary(feature_count=10, drifted_features=[f"f{i}" for i in range(9)], drift_share=0.9,
                       score_drift=0.3, score_drifted=True, alert_rate=0.02, trailing_alert_rate=0.01,
                       alert_rate_band=(0.005, 0.03), drift_scores={"f0": 0.4})


class Trainer:
    """Counts retrains; each registers the next version."""

    def __init__(self, fail: bool = False):
        self.calls, self.fail = 0, fail

    def __call__(self) -> TrainResult:
        self.calls += 1
        if self.fail:
            raise RuntimeError("MLflow store went away\nsecond line")
        return TrainResult(parent_run_id=f"run-{self.calls}", version=str(self.calls), decision="promoted",
                           reason="no champion yet", detector="gaussian", objective_name="ap", objective=0.5,
                           data_window="2026-01-01..2026-01-07")


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", mlflow_tracking_uri=None, prefect_api_url=None)
    settings.monitoring.retrain_cooldown_days = 3
    return settings


def record_drift(settings: Settings, day: date) -> None:
    update_day_status(DataLayout(settings.data_dir), day, "drift", {
        **DRIFTED.to_record(), "drift_detected": True, "retrain_recommended": True})


def test_the_recorded_drift_gives_back_the_monitors_summary(settings):
    record_drift(settings, DAY)
    assert recorded_summary(read_day_record(DataLayout(settings.data_dir), DAY).drift) == DRIFTED


def test_a_second_trigger_for_the_day_is_a_recorded_no_op(settings):
    layout, train = DataLayout(settings.data_dir), Trainer()
    record_drift(settings, DAY)
    first = run_drift_retrain(DAY, settings, train, "flow-run-a", "deployment")
    assert (first.triggered, first.state, first.model_version, first.promotion_decision) == (True, "Completed", "1",
                                                                                             "promoted")
    second = run_drift_retrain(DAY, settings, train, "flow-run-b", "deployment")
    assert train.calls == 1 and not second.triggered and second.skip_reason == f"a drift retrain already ran for {DAY}"
    retrain = read_day_record(layout, DAY).retrain
    assert retrain.model_version == "1" and retrain.flow_run_id == "flow-run-a"  # the retrain that ran stays
    assert retrain.skipped_runs == [f"flow run flow-run-b: a drift retrain already ran for {DAY}"]
    assert read_retrain_result(layout, "flow-run-a").model_version == "1"  # each run reads its own result
    assert read_retrain_result(layout, "flow-run-b").state == "Skipped"
    assert read_retrain_result(layout, "flow-run-c") is None
    assert drift_retrain_days(layout) == [DAY]


def test_a_day_inside_the_cooldown_records_why_it_did_not_retrain(settings):
    layout, train = DataLayout(settings.data_dir), Trainer()
    record_drift(settings, DAY)
    run_drift_retrain(DAY, settings, train, "a", "in-process")
    later = DAY + timedelta(days=1)
    record_drift(settings, later)
    skipped = run_drift_retrain(later, settings, train, "b", "in-process")
    assert train.calls == 1 and skipped.skip_reason.startswith(f"cooldown: a drift retrain ran for {DAY}")
    assert read_day_record(layout, later).retrain.skip_reason == skipped.skip_reason
    assert run_drift_retrain(DAY + timedelta(days=5), settings, train, "c", "in-process").skip_reason.startswith(
        "no drift recorded")  # never monitored: nothing to act on


def test_a_failed_retrain_is_recorded_and_retried_on_the_next_trigger(settings):
    layout = DataLayout(settings.data_dir)
    record_drift(settings, DAY)
    with pytest.raises(RuntimeError, match="MLflow store went away"):
        run_drift_retrain(DAY, settings, Trainer(fail=True), "a", "deployment")
    retrain = read_day_record(layout, DAY).retrain
    assert retrain.triggered and retrain.error == "MLflow store went away" and retrain.state == "Failed"
    assert drift_retrain_days(layout) == []  # not in the cooldown: the next trigger retrains
    assert run_drift_retrain(DAY, settings, Trainer(), "b", "deployment").model_version == "1"
    assert read_day_record(layout, DAY).retrain.error is None


def test_the_drift_event_names_the_data_root_and_carries_the_day(settings, tmp_path):
    decision = RetrainDecision(retrain=True, reasons=["9 of 10 features drifted"], drift_detected=True)
    payload = drift_event_payload(DAY, settings, DRIFTED, decision, "3")
    assert payload == {"day": "2026-01-07", "drift_share": 0.9, "reasons": ["9 of 10 features drifted"],
                       "data_dir": str(settings.data_dir), "model_version": "3"}
    assert data_root_resource_id(settings.data_dir) == data_root_resource_id(tmp_path / "data" / ".")
    assert data_root_resource_id(settings.data_dir) != data_root_resource_id(tmp_path / "other")
    same = drift_event_id(settings.data_dir, DAY, "run-1")
    assert same == drift_event_id(settings.data_dir, DAY, "run-1")  # a re-sent event keeps its id
    assert same != drift_event_id(settings.data_dir, DAY, "run-2")  # a rerun of the day is a new event
    assert same != drift_event_id(settings.data_dir, DAY + timedelta(days=1), "run-1")
    assert asdict(DRIFTED)["drift_share"] == payload["drift_share"]
