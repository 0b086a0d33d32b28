"""Event-driven retraining: a drift event fires the Prefect automation, which runs the retrain
deployment; the retrain applies the rule under the guard, so it runs once however often the day's
event arrives, and leaves the same day record as the in-process (embedded) path.

A real `prefect server` (with its triggers and actions services) on loopback, the real
`shopguard serve` in a subprocess, events emitted by a separate process through Prefect's client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_schedules import free_port
from test_serve_stop import _wait_for_line
from test_training_units import END, write_feature_window

from infra.automations import apply_automations, drift_automation_name
from infra.deployments import RETRAIN_DEPLOYMENT
from infra.servers import prefect_server, wait_healthy
from tasks.layout import DataLayout
from tasks.monitoring.drift_event import DRIFT_EVENT, data_root_resource_id, drift_event_id
from tasks.monitoring.drift_retrain import read_retrain_result
from tasks.monitoring.retrain_rule import drift_retrain_days
from tasks.run_status import read_day_status, update_day_status
from tasks.settings import Settings
from tasks.tracking import mlflow_client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DAY = END
TRAINING_ENV = {"SHOPGUARD_TRAINING__DETECTORS": "gaussian,ecod", "SHOPGUARD_TRAINING__TRIALS": "1"}

EMIT = textwrap.dedent("""
    import sys
    from datetime import date
    from prefect.events.worker import EventsWorker
    from tasks.monitoring.drift import DriftSummary
    from tasks.monitoring.drift_event import emit_drift_event
    from tasks.monitoring.retrain_rule import RetrainDecision
    from tasks.settings import Settings
    settings = Settings()
    summary = DriftSummary(feature_count=10, drifted_features=[f"f{i}" for i in range(9)], drift_share=0.9,
                           score_drift=0.0, score_drifted=False, alert_rate=0.02, trailing_alert_rate=None,
                           alert_rate_band=None)
    decision = RetrainDecision(retrain=True, reasons=["9 of 10 features drifted (90% > 45%)"], drift_detected=True)
    for emitter in sys.argv[2:]:  # one event per emitting run; a repeated run id re-sends the same event
        emit_drift_event(date.fromisoformat(sys.argv[1]), settings, summary, decision, "1", emitter=emitter)
    EventsWorker.drain_all(timeout=30)
""")

VOLATILE = {"updated_at", "flow_run_id", "mode", "run_id", "skipped_runs"}


def drifted_day(data_dir: Path) -> Settings:
    """A data root with a feature window ending DAY and the monitor's drift record for DAY."""
    settings = Settings(data_dir=data_dir, mlflow_tracking_uri=None, prefect_api_url=None)
    settings.training.detectors, settings.training.trials = ["gaussian", "ecod"], 1
    write_feature_window(settings, users=150, anomaly_share=0.03)
    update_day_status(DataLayout(data_dir), DAY, "drift", {
        "feature_count": 10, "drifted_features": [f"f{i}" for i in range(9)], "drift_share": 0.9,
        "drift_detected": True, "retrain_recommended": True, "model_version": "1",
        "reasons": ["9 of 10 features drifted (90% > 45%)"]})
    return settings


def boot_prefect_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`prefect server start` (API, UI, triggers and actions services) on a free loopback port.

    Not infra.servers.start: that waits 90 s, and on a loaded CI machine the boot has taken longer.
    """
    server = prefect_server(home, free_port())
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "prefect.log", "wb") as log_file:
        process = subprocess.Popen(server.command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **server.env}, start_new_session=True)
    return process, server.ui_url + "/api"


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and what it spawned
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def comparable(record: dict) -> dict:
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        return value
    return strip(record)


def emit(data_dir: Path, api_url: str, *emitters: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "MLFLOW_", "PREFECT_API"))}
    env.update(PREFECT_API_URL=api_url, SHOPGUARD_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", EMIT, DAY.isoformat(), *emitters], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def retrain_runs(client, deployment_id) -> list:
    """The deployment's drift runs (not the runs its Monday cron has scheduled)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return [r for r in runs if r.parameters.get("trigger") == "drift"]


def wait_for_runs(client, deployment_id, count: int, timeout_s: float = 400) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = retrain_runs(client, deployment_id)
        if len(runs) >= count and all(r.state and r.state.is_final() for r in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"wanted {count} finished drift retrain runs, have {[(r.name, r.state_name) for r in runs]}")


def retrain_through_automation(data_dir: Path, api_url: str, home: Path) -> tuple[list, object]:
    """`shopguard serve` on the server; the day's event sent twice, then once more (a rerun's)."""
    from prefect.client.orchestration import get_client

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "MLFLOW_", "PREFECT_"))}
    env.update(PREFECT_API_URL=api_url, SHOPGUARD_DATA_DIR=str(data_dir), PREFECT_HOME=str(home),
               PREFECT_RUNNER_POLL_FREQUENCY="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT),
               **TRAINING_ENV)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "serve.log", "wb") as serve_log:  # a file, not a pipe: nobody drains it meanwhile
        serving = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve"], stdout=subprocess.PIPE,
                                   stderr=serve_log, text=True, env=env, cwd=ROOT)
    try:
        _wait_for_line(serving, "serving deployments", timeout_s=300)
        with get_client(sync_client=True) as client:
            (automation,) = client.read_automations_by_name(drift_automation_name(data_dir))
            assert apply_automations(Settings(data_dir=data_dir, prefect_api_url=api_url)) == [str(automation.id)]
            assert automation.trigger.match.root["prefect.resource.id"] == data_root_resource_id(data_dir)
            deployment = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)

            emit(data_dir, api_url, "monitor-run-1", "monitor-run-1")  # the same event sent twice
            (first,) = wait_for_runs(client, deployment.id, 1)
            assert first.state_name == "Completed", (home / "serve.log").read_text()[-3000:]
            assert first.parameters == {"end": DAY.isoformat(), "trigger": "drift", "data_dir": str(data_dir)}
            emit(data_dir, api_url, "monitor-run-2")  # the day monitored again: a new event
            wait_for_runs(client, deployment.id, 2)
            time.sleep(2)  # a third run (the duplicate let through) would exist by now
            runs = retrain_runs(client, deployment.id)
            events = client.request("POST", "/events/filter", json={"filter": {"event": {"name": [DRIFT_EVENT]}}})
        assert len(runs) == 2 and all(r.state_name == "Completed" for r in runs), [(r.name, r.state_name) for r in runs]
        stored = {e["id"] for e in events.json()["events"]}
        assert stored == {str(drift_event_id(data_dir, DAY, f"monitor-run-{i}")) for i in (1, 2)}
        return runs, first
    finally:
        serving.terminate()
        serving.communicate(timeout=60)


def test_a_drift_event_fires_the_automation_once_and_matches_the_in_process_record(tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.daily import start_drift_retrain

    server, api_url = boot_prefect_server(tmp_path / "server")
    try:
        embedded, served = drifted_day(tmp_path / "embedded"), drifted_day(tmp_path / "served")  # while it boots
        assert wait_healthy(f"{api_url}/health", 300, server), (tmp_path / "server" / "prefect.log").read_text()[-2000:]
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            # Embedded mode: shopguard has no server configured, so the daily flow's path retrains
            # in-process (Prefect records the runs on this server; its automation ignores this root).
            started = time.monotonic()
            section = start_drift_retrain(DAY, embedded)
            embedded_s = time.monotonic() - started
            assert section is not None and section.mode == "in-process" and section.model_version == "1"
            assert start_drift_retrain(DAY, embedded).skip_reason == f"a drift retrain already ran for {DAY}"
            started = time.monotonic()
            runs, first = retrain_through_automation(served.data_dir, api_url, tmp_path / "serve-home")
            served_s = time.monotonic() - started
    finally:
        stop_server(server)

    layout = DataLayout(served.data_dir)
    second = next(r for r in runs if r.id != first.id)
    assert read_retrain_result(layout, str(first.id)).model_version == "1"  # each run's own persisted result
    assert read_retrain_result(layout, str(second.id)).skip_reason == f"a drift retrain already ran for {DAY}"
    versions = mlflow_client(served).search_model_versions(f"name='{served.registered_model_name}'")
    assert [str(v.version) for v in versions] == ["1"]  # trained once
    assert drift_retrain_days(layout) == [DAY]

    record = read_day_status(layout, DAY)
    retrain = record["retrain"]
    assert retrain["triggered"] and retrain["mode"] == "deployment" and retrain["flow_run_id"] == str(first.id)
    assert retrain["skipped_runs"] == [f"flow run {second.id}: a drift retrain already ran for {DAY}"]
    assert comparable(record) == comparable(read_day_status(DataLayout(embedded.data_dir), DAY))
    print(f"in-process drift retrain {embedded_s:.1f} s; automation path (serve, 2 runs) {served_s:.1f} s")
