"""`shopguard serve`: scheduled runs named like the CLI's; stopping is a clean exit that leaves schedules on.

A real `prefect server` on loopback (started by the test) and the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_schedules import free_port

from infra.deployments import DAILY_DEPLOYMENT, RETRAIN_DEPLOYMENT
from infra.servers import prefect_server, start, stop


def _wait_for_line(process: subprocess.Popen, text: str, timeout_s: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} from serve: {lines}")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["at once", "once serving"])
def test_sigterm_stops_serve_cleanly_and_leaves_schedules_on(tmp_path, when):
    """At once: the moment serve says it serves, while its runner is still starting (Prefect's own
    handler would then exit through a never-awaited coroutine); once serving: in its polling loops."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    data_dir = tmp_path / "data"
    server = prefect_server(data_dir, free_port())
    start(server, data_dir)
    api_url = server.ui_url + "/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "MLFLOW_", "PREFECT_"))}
    env.update(PREFECT_API_URL=api_url, SHOPGUARD_DATA_DIR=str(data_dir), PYTHONWARNINGS="default")
    serving = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for_line(serving, "serving deployments")
        with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            deadline = time.monotonic() + (60 if when == "once serving" else 0)
            while time.monotonic() < deadline:  # the runner registers the deployments once it starts
                try:
                    client.read_deployment_by_name(DAILY_DEPLOYMENT)
                    client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
                    break
                except Exception:  # ObjectNotFound until the runner has applied them
                    time.sleep(0.5)
            if when == "once serving":
                time.sleep(1)  # let the runner reach its polling loops
            serving.send_signal(signal.SIGTERM)
            out, err = serving.communicate(timeout=60)
            daily = client.read_deployment_by_name(DAILY_DEPLOYMENT)
            retrain = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
        assert serving.returncode == 0, err
        assert "never awaited" not in err and "Traceback" not in err, err
        assert "stopped serving" in out
        assert not daily.paused and not retrain.paused  # a restarted serve picks the schedules up as they were
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
        stop("prefect", data_dir)


def test_scheduled_runs_are_named_by_stage_and_day(prefect_harness):
    from prefect import flow
    from prefect.runtime import flow_run

    from flows.serve import _scheduled_run_name, yesterday_utc

    @flow(flow_run_name=_scheduled_run_name("train", "end", suffix="trigger"))
    def retrain_like(end: str | None = None, trigger: str = "schedule") -> str:
        return flow_run.name

    assert retrain_like(end="2026-01-11", trigger="drift") == "train 2026-01-11 (drift)"
    assert retrain_like() == f"train {yesterday_utc()} (schedule)"  # the default day, as the flow uses it
