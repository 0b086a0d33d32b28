"""The one retrain guard: a killed holder never blocks the next retrain; the Prefect limit covers
retrains that share a server but not a data root."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tasks.registry.retrain_guard import RETRAIN_LIMIT, RetrainBusy, retrain_guard
from tasks.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time
    from tasks.registry.retrain_guard import retrain_guard
    from tasks.settings import Settings
    with retrain_guard(Settings(data_dir=sys.argv[1], prefect_api_url=None), "holder"):
        print("held", flush=True)
        time.sleep(600)
""")


def make_settings(data_dir: Path, wait: float, api_url: str | None = None) -> Settings:
    settings = Settings(data_dir=data_dir, mlflow_tracking_uri=None, prefect_api_url=api_url)
    settings.training.retrain_wait_seconds = wait
    return settings


def test_a_holder_killed_with_sigkill_leaves_nothing_that_blocks(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(RetrainBusy, match=f"another retrain or promotion is running in {tmp_path}") as busy, \
                retrain_guard(make_settings(tmp_path, wait=0.5), "second"):
            pass
        assert time.monotonic() - started < 5 and "\n" not in str(busy.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with retrain_guard(make_settings(tmp_path, wait=5), "after the crash"):  # the kernel dropped the lock
        pass


def test_the_second_caller_waits_for_the_first_then_runs(tmp_path):
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with retrain_guard(make_settings(tmp_path, wait=5), "first"):
            entered.set()
            time.sleep(1.0)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(10)
    with retrain_guard(make_settings(tmp_path, wait=30), "second"):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_prefect_concurrency_limit_guards_retrains_of_different_data_roots(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    entered, release = threading.Event(), threading.Event()

    def holder() -> None:
        with retrain_guard(make_settings(tmp_path / "machine-a", wait=30, api_url=api_url), "a"):
            entered.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert entered.wait(60)
        with pytest.raises(RetrainBusy, match=f"Prefect concurrency limit '{RETRAIN_LIMIT}' at {api_url}"), \
                retrain_guard(make_settings(tmp_path / "machine-b", wait=1, api_url=api_url), "b"):
            pass
    finally:
        release.set()
        thread.join(60)
    with retrain_guard(make_settings(tmp_path / "machine-b", wait=30, api_url=api_url), "b again"):
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(RETRAIN_LIMIT)
        assert limit.limit == 1 and limit.active_slots == 1


@pytest.mark.slow
def test_one_process_guarding_against_two_servers_in_turn_takes_each_slot_from_its_own(prefect_harness, tmp_path):
    """Prefect's slot acquisition is a per-process service bound to the first API it met; left
    alone, a guard against a second server takes its lease from the first and every renewal on the
    second is refused (410), which cancels the retrain. The guard rebinds it each time."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from infra.ephemeral_prefect import SharedPrefectServer

    def active_slots(api_url: str) -> int:
        with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(RETRAIN_LIMIT).active_slots

    first = PREFECT_API_URL.value()
    server = SharedPrefectServer(tmp_path / "server", idle_s=1)  # a second API (a command's), booting meanwhile
    server.attach()
    second = server.api_url
    try:
        with retrain_guard(make_settings(tmp_path / "a", wait=30, api_url=first), "on the first server"):
            assert active_slots(first) == 1
        server.wait_ready(300)
        with temporary_settings(updates={PREFECT_API_URL: second}), \
                retrain_guard(make_settings(tmp_path / "b", wait=30, api_url=second), "on the second server"):
            time.sleep(2)  # the renewal thread renews at once: a lease from the wrong server fails here
            assert (active_slots(second), active_slots(first)) == (1, 0)
        assert active_slots(second) == 0  # released where it was taken
    finally:
        server.release()


def test_a_configured_prefect_server_that_is_down_fails_in_one_line_instead_of_falling_back(tmp_path):
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from infra.deployments import RETRAIN_DEPLOYMENT
    from tasks.errors import ShopguardError
    from tasks.monitoring.retrain_launch import deployment_available

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        api_url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"  # nothing listens there
    settings = make_settings(tmp_path, wait=1, api_url=api_url)
    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_CLIENT_MAX_RETRIES: 0}):
        with pytest.raises(ShopguardError, match=f"Prefect server {api_url} did not answer"):
            deployment_available(settings, RETRAIN_DEPLOYMENT)
        with pytest.raises(ShopguardError, match=f"Prefect server {api_url} is not usable"), \
                retrain_guard(settings, "train"):
            pass


RETRAIN = textwrap.dedent("""
    import logging, sys
    from datetime import date
    from flows.train import train_flow
    from tasks.settings import Settings
    guard_log = logging.getLogger("tasks.registry.retrain_guard")
    guard_log.setLevel(logging.INFO)
    guard_log.addHandler(logging.StreamHandler(sys.stderr))
    settings = Settings()
    settings.apply_environment()
    print(train_flow(end=date.fromisoformat(sys.argv[1]), settings=settings, trials=1, trigger="schedule").version)
""")


@pytest.mark.slow
def test_two_retrains_sharing_a_registry_move_the_champion_once_each_in_order(tmp_path):
    """Two machines (data roots) share a Prefect server and an MLflow registry: only the Prefect
    limit stands between their retrains (the flocks are per data root)."""
    from test_drift_automation import boot_prefect_server, stop_server
    from test_training_units import END, write_feature_window

    from infra.servers import wait_healthy
    from tasks.registry.contract import CHAMPION, PREVIOUS_CHAMPION
    from tasks.tracking import mlflow_client

    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    server, api_url = boot_prefect_server(tmp_path / "server")
    try:
        for machine in ("a", "b"):
            write_feature_window(make_settings(tmp_path / machine, wait=600), users=150, anomaly_share=0.03)
        assert wait_healthy(f"{api_url}/health", 300, server)
        procs = {}
        for machine in ("a", "b"):
            env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOPGUARD_DATA_DIR": str(tmp_path / machine),
                   "MLFLOW_TRACKING_URI": registry, "PREFECT_API_URL": api_url,
                   "SHOPGUARD_TRAINING__DETECTORS": "gaussian", "SHOPGUARD_TRAINING__TRIALS": "1",
                   "SHOPGUARD_TRAINING__PROMOTION_MARGIN": "0"}  # an equal challenger wins: both promote
            procs[machine] = subprocess.Popen([sys.executable, "-c", RETRAIN, END.isoformat()], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outputs = {machine: proc.communicate(timeout=900) for machine, proc in procs.items()}
    finally:
        stop_server(server)
    for machine, proc in procs.items():
        assert proc.returncode == 0, f"{machine}: {outputs[machine][1][-2000:]}"
    assert any("waited" in err and "for the retrain guard" in err for _, err in outputs.values())  # they did meet

    client = mlflow_client(Settings(data_dir=tmp_path / "a", mlflow_tracking_uri=registry))
    name = make_settings(tmp_path / "a", wait=1).registered_model_name
    versions = {str(v.version): v for v in client.search_model_versions(f"name='{name}'")}
    assert sorted(versions) == sorted(out.split()[-1] for out, _ in outputs.values()) == ["1", "2"]
    runs = sorted((client.get_run(v.run_id) for v in versions.values()), key=lambda r: r.info.start_time)
    assert runs[0].info.end_time <= runs[1].info.start_time  # never both at once
    first, second = (versions[v] for v in ("1", "2"))
    assert first.run_id == runs[0].info.run_id  # registered in the order they ran
    assert first.tags["promotion_decision"] == second.tags["promotion_decision"] == "promoted"
    assert second.tags["previous_champion"] == "1" and "previous_champion" not in first.tags  # one move each
    aliases = {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}
    assert aliases[CHAMPION] == "2" and aliases[PREVIOUS_CHAMPION] == "1"
