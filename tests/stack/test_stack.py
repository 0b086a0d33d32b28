"""The production-shaped stack (infra/stack.py) started for real on loopback, random free ports.

One module-scoped stack: Postgres, MLflow and Prefect servers on Postgres, a process work pool
with the deployments and a worker, a Dask scheduler and worker. A small world is trained against
it; the daily deployment then runs one day through the worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import psutil
import pytest

from infra.deployments import DAILY_DEPLOYMENT, RETRAIN_DEPLOYMENT
from infra.servers import (
    group_alive,
    process_start_ticks,
    record_pid,
    recorded_pid,
    signal_group,
    stop_recorded,
)
from infra.stack import PROCESSES, Ports, StackConfig, down, postgres_running, up
from tasks.layout import DataLayout
from tasks.run_status import read_day_status

START = date(2026, 1, 1)
TRAIN_DAYS = 5
DAYS = [START + timedelta(days=i) for i in range(TRAIN_DAYS + 2)]
PROMOTION = DAYS[-1]  # the world's shift: drift, so the monitor's event fires the retrain automation
# the worker's flow runs read their settings from its environment: a small, quick sweep
TRAINING_ENV = {"SHOPGUARD_TRAINING__TRIALS": "2", "SHOPGUARD_TRAINING__DETECTORS": "isolation_forest,gaussian"}
RESEND = """
import json, sys, uuid
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
event, resource, payload = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
emit_event(event=event, resource=resource, payload=payload, id=uuid.UUID(sys.argv[4]))
EventsWorker.drain_all(timeout=30)
"""
TMP_PREFIX = "shopguard-stack-test-"
OWNER_FILE = "owner.json"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def stop_leftover_stacks() -> None:
    """A test run killed mid-way leaves its stack running; stop those whose test process is gone.

    Its ports were random and its folder its own, so it would not block this run, but its servers
    would keep eating the machine. Only folders whose recorded owner (pid + start time) is dead.
    """
    for root in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        if recorded_pid(root / OWNER_FILE) is not None:
            continue  # another live test run's stack
        ports = root / "data" / "stack" / "ports.json"
        if ports.exists():
            down(StackConfig(data_dir=root / "data", ports=Ports(**json.loads(ports.read_text()))))
        shutil.rmtree(root, ignore_errors=True)


def _stack_processes(config: StackConfig) -> list[psutil.Process]:
    """Every live process whose command line names this stack's folders or its ports."""
    marks = [str(config.root), str(config.data_dir), *(f":{p}" for p in (config.ports.mlflow, config.ports.prefect))]
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.pid != os.getpid() and any(mark in cmdline for mark in marks) and "pytest" not in cmdline:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def stack():
    stop_leftover_stacks()
    # Not tmp_path: /tmp/pytest-of-root is 0700, and as root Postgres runs as the postgres user,
    # which must traverse every parent of its cluster folder.
    root = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    root.chmod(0o755)
    record_pid(root / OWNER_FILE, os.getpid())
    config = StackConfig(data_dir=root / "data", ports=Ports(*free_ports(5)), dask_workers=1)
    saved = dict(os.environ)
    os.environ.update(TRAINING_ENV)  # inherited by the worker that `up` starts
    try:
        started = time.monotonic()
        status = up(config)
        yield config, status, time.monotonic() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)
        down(config)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def prefect_api(stack):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: stack[0].prefect_api_url}):
        yield


@pytest.fixture(scope="module")
def world(stack, prefect_api):
    """A small world whose first champion is trained against the stack's MLflow (Postgres registry)."""
    from flows.features import features_flow
    from flows.generate import generate_flow
    from flows.train import train_flow
    from flows.validate import validate_flow
    from tasks.settings import Settings

    config = stack[0]
    settings = Settings(data_dir=config.data_dir, mlflow_tracking_uri=config.mlflow_uri,
                        prefect_api_url=config.prefect_api_url,
                        training={"trials": 2, "detectors": ["isolation_forest", "gaussian"]})
    generate_flow(settings=settings, start=START, days=len(DAYS), users=300, seed=5, promotion_day=PROMOTION)
    for day in DAYS[:-1]:  # the retrain's window ends on the promotion day: it needs every day before
        validate_flow(day=day, settings=settings)
        features_flow(day=day, settings=settings)
    first = train_flow(end=DAYS[TRAIN_DAYS - 1], settings=settings, window_days=TRAIN_DAYS, trigger="manual")
    return settings, first


def _psql(config: StackConfig, database: str, sql: str) -> list[str]:
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(config.ports.postgres), "-U", "postgres", "-d", database,
                          "-tAc", sql], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _drift_retrain_runs(client, deployment_id) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return [r for r in runs if r.parameters.get("trigger") == "drift"]


def _wait_for_finished_run(client, deployment_id, timeout_s: float = 900) -> list:
    deadline = time.monotonic() + timeout_s
    runs: list = []
    while time.monotonic() < deadline:
        runs = _drift_retrain_runs(client, deployment_id)
        if runs and all(r.state and r.state.is_final() for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"no finished drift retrain run: {[(r.name, r.state_name) for r in runs]}")


@pytest.mark.slow
def test_a_drift_day_runs_through_the_worker_and_its_event_retrains_once(stack, world):
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from tasks.monitoring.drift_event import DRIFT_EVENT

    config, status, _ = stack
    settings, first = world
    assert all(status[name] == "started" for name in PROCESSES) and status["postgres"] == "started"
    assert "automation" in status["deployments"]  # infra/automations.py applied after the deployments
    run = run_deployment(DAILY_DEPLOYMENT, parameters={"day": PROMOTION.isoformat(), "data_dir": str(config.data_dir)},
                         timeout=900)
    assert run.state.is_completed(), f"daily run ended {run.state.name}: {run.state.message}"
    assert run.work_pool_name == config.pool  # a worker of the pool ran it, not this process
    assert str(run.id) in _psql(config, "prefect", f"SELECT id FROM flow_run WHERE id = '{run.id}'")

    # the day as the worker left it: scored by the champion of the Postgres-backed registry, drift recorded
    client = MlflowClient(tracking_uri=config.mlflow_uri)
    layout = DataLayout(config.data_dir)
    record = read_day_status(layout, PROMOTION)
    scores = pd.read_parquet(layout.scores(PROMOTION) / "part-0.parquet")
    assert len(scores) == record["scoring"]["users_scored"] > 0
    assert (scores["model_version"] == first.version).all() and record["scoring"]["model_version"] == first.version
    assert record["drift"]["drift_detected"] and record["drift"]["retrain_recommended"]
    assert settings.registered_model_name in _psql(config, "mlflow", "SELECT name FROM registered_models")
    assert client.get_model_version_download_uri(settings.registered_model_name, first.version).startswith(
        "mlflow-artifacts:")  # the server's artifact proxy: clients never see its folder
    assert list((config.data_dir / "mlflow" / "artifacts").rglob("MLmodel"))

    with get_client(sync_client=True) as prefect:
        retrain = prefect.read_deployment_by_name(RETRAIN_DEPLOYMENT)
        (fired,) = _wait_for_finished_run(prefect, retrain.id)  # the monitor's event, through the automation
        assert fired.state_name == "Completed", fired.state.message
        assert fired.work_pool_name == config.pool
        assert fired.parameters == {"end": PROMOTION.isoformat(), "trigger": "drift", "data_dir": str(config.data_dir)}
        events = prefect.request("POST", "/events/filter",
                                 json={"filter": {"event": {"name": [DRIFT_EVENT]}}}).json()["events"]
        (event,) = events
        # the same event again (a client resending after a reconnect): no second retrain
        resent = subprocess.run([sys.executable, "-c", RESEND, event["event"], json.dumps(event["resource"]),
                                 json.dumps(event["payload"]), event["id"]], capture_output=True, text=True, timeout=180,
                                env={**os.environ, "PREFECT_API_URL": config.prefect_api_url})
        assert resent.returncode == 0, resent.stderr[-2000:]
        time.sleep(15)  # the automation fired the first time within seconds
        assert [r.id for r in _drift_retrain_runs(prefect, retrain.id)] == [fired.id]

    versions = client.search_model_versions(f"name='{settings.registered_model_name}'")
    assert sorted(int(v.version) for v in versions) == [int(first.version), int(first.version) + 1]  # trained once
    champion = client.get_model_version_by_alias(settings.registered_model_name, "champion")
    retrained = read_day_status(layout, PROMOTION)["retrain"]
    assert retrained["triggered"] and retrained["flow_run_id"] == str(fired.id)
    assert retrained["model_version"] == str(int(first.version) + 1)
    assert champion.version == (retrained["model_version"] if retrained["promotion_decision"] == "promoted"
                                else first.version)


@pytest.mark.slow
def test_the_retrain_deployment_is_on_the_pool(stack, prefect_api):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        retrain = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
    assert retrain.work_pool_name == stack[0].pool
    assert retrain.global_concurrency_limit.limit == 1


@pytest.mark.slow
def test_up_again_finds_every_part_healthy_and_starts_nothing(stack):
    config = stack[0]
    pids = {name: recorded_pid(config.root / "servers" / f"{name}.pid") for name in PROCESSES}
    status = up(config)
    assert {name: status[name] for name in (*PROCESSES, "postgres")} == dict.fromkeys((*PROCESSES, "postgres"),
                                                                                     "already running")
    assert {name: recorded_pid(config.root / "servers" / f"{name}.pid") for name in PROCESSES} == pids
    env = (config.root / "env").read_text()
    assert f"export PREFECT_API_URL={config.prefect_api_url}\n" in env
    assert f"export SHOPGUARD_DASK_ADDRESS={config.dask_address}\n" in env


@pytest.mark.slow
def test_down_stops_every_process_and_keeps_the_data(stack):
    config = stack[0]
    assert _stack_processes(config), "the stack's processes should be visible before down"
    stopped = down(config)
    assert set(stopped) == {*PROCESSES, "postgres"}
    assert not postgres_running(config)
    gone_by = time.monotonic() + 20
    while _stack_processes(config) and time.monotonic() < gone_by:
        time.sleep(0.5)
    assert [p.info["cmdline"] for p in _stack_processes(config)] == []
    assert (config.pg_data / "PG_VERSION").exists() and list((config.data_dir / "mlflow" / "artifacts").rglob("MLmodel"))
    assert down(config) == []  # a second down finds nothing to stop


def test_down_refuses_a_pid_now_owned_by_another_process(tmp_path):
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pid_file = tmp_path / "worker.pid"
        ticks = process_start_ticks(stranger.pid)
        pid_file.write_text(json.dumps({"pid": stranger.pid, "start_ticks": ticks - 1}))  # an earlier owner's
        assert recorded_pid(pid_file) is None
        assert stop_recorded(pid_file) is False
        assert stranger.poll() is None, "down signalled a process it did not start"
        assert not pid_file.exists()

        record_pid(pid_file, stranger.pid)  # the real owner's record: that one is stopped
        assert recorded_pid(pid_file) == stranger.pid
        assert stop_recorded(pid_file) is True
        assert stranger.wait(timeout=10) is not None
    finally:
        if stranger.poll() is None:
            stranger.kill()


def test_down_also_stops_workers_that_outlive_their_leader(tmp_path):
    """A server whose leader exits on SIGTERM while a worker it spawned ignores it: the whole
    session goes, not just the leader."""
    script = "trap '' TERM; sleep 60"
    leader = subprocess.Popen(["bash", "-c", f"bash -c \"{script}\" & wait"], start_new_session=True)
    try:
        time.sleep(0.5)  # the worker is up and ignoring SIGTERM
        assert group_alive(leader.pid)
        pid_file = tmp_path / "server.pid"
        record_pid(pid_file, leader.pid)
        assert stop_recorded(pid_file, timeout_s=2) is True
        leader.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_alive(leader.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(leader.pid), "a worker of the stopped server is still running"
    finally:
        signal_group(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)


def test_a_bare_pid_file_from_an_older_make_up_is_still_stopped(tmp_path):
    server = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pid_file = tmp_path / "mlflow.pid"
        pid_file.write_text(str(server.pid))
        assert recorded_pid(pid_file) == server.pid
        assert stop_recorded(pid_file) is True
        assert server.wait(timeout=10) is not None
    finally:
        if server.poll() is None:
            server.kill()
