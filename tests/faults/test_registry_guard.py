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
