"""Deployments and schedules against a real `prefect server` started on loopback by the test."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from infra.deployments import DAILY_DEPLOYMENT, RETRAIN_DEPLOYMENT, deployment_specs
from infra.servers import prefect_server, running_pid, start, stop
from tasks.errors import ShopguardError
from tasks.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_specs_follow_settings(tmp_path):
    settings = Settings(data_dir=tmp_path, schedule={"scoring_cron": "30 1 * * *", "retrain_cron": "0 3 * * *"})
    specs = {s.full_name: s for s in deployment_specs(settings)}
    assert specs[DAILY_DEPLOYMENT].cron == "30 1 * * *"
    assert specs[RETRAIN_DEPLOYMENT].cron == "0 3 * * *"
    assert specs[RETRAIN_DEPLOYMENT].concurrency_limit == 1
    assert all(s.parameters["data_dir"] == str(tmp_path.resolve()) for s in specs.values())


def test_yesterday_is_the_default_scoring_day():
    from flows.serve import yesterday_utc

    assert yesterday_utc(datetime(2026, 3, 1, 2, 0, tzinfo=UTC)).isoformat() == "2026-02-28"


def test_serve_without_a_server_fails_in_one_line(tmp_path):
    from flows.serve import serve

    with pytest.raises(ShopguardError, match="no Prefect server configured"):
        serve(Settings(data_dir=tmp_path), run_once=True)


@pytest.mark.slow
def test_deployments_registered_with_cron_and_scheduled(tmp_path, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serve import serve
    from tasks.monitoring.retrain_launch import deployment_available

    data_dir = tmp_path / "data"
    server = prefect_server(data_dir, free_port())
    start(server, data_dir)
    try:
        api_url = server.ui_url + "/api"
        settings = Settings(data_dir=data_dir, prefect_api_url=api_url)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            assert not deployment_available(settings, RETRAIN_DEPLOYMENT)  # drift would retrain in-process
            serve(settings, run_once=True)
            assert deployment_available(settings, RETRAIN_DEPLOYMENT)  # now drift starts the deployment
            with get_client(sync_client=True) as client:
                daily = client.read_deployment_by_name(DAILY_DEPLOYMENT)
                retrain = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
                deadline = time.monotonic() + 30
                runs = []
                while not runs and time.monotonic() < deadline:
                    time.sleep(1)
                    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[daily.id])))
        assert [s.schedule.cron for s in daily.schedules] == ["0 2 * * *"]
        assert [s.schedule.timezone for s in daily.schedules] == ["UTC"]
        assert [s.schedule.cron for s in retrain.schedules] == ["0 4 * * 1"]
        assert retrain.global_concurrency_limit.limit == 1
        assert daily.parameters == {"data_dir": str(data_dir.resolve())}
        assert runs, "the server's scheduler created no runs for the daily deployment"
        assert all(r.state_name == "Scheduled" and r.expected_start_time.hour == 2 for r in runs)
        assert "shopguard-daily/daily-scoring" in capsys.readouterr().out
    finally:
        stop("prefect", data_dir)
    assert running_pid(data_dir, "prefect") is None
