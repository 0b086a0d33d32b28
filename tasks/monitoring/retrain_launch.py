"""Starting a drift retrain once the monitor asked for one: which path, and what it left.

1. The configured Prefect server has the drift automation (enabled) and the retrain deployment:
   nothing to start here; the monitor's ``shopguard.drift.detected`` event makes the automation
   run the deployment, and that retrain records itself into the day's record.
2. The server has the deployment but no automation: run it and wait (per-day idempotency key),
   then read the result that run persisted (keyed by its flow run id).
3. No server, or one without the deployment (embedded mode): the same drift retrain in-process.

Every path ends in tasks.monitoring.drift_retrain.run_drift_retrain, so the rule, the guard and
the records are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from tasks.errors import ShopguardError, first_line
from tasks.layout import DataLayout
from tasks.monitoring.drift_retrain import read_retrain_result
from tasks.run_status import RetrainSection, read_day_record, update_day_status
from tasks.settings import Settings

log = logging.getLogger(__name__)


def retrain_idempotency_key(day: date, caller_run_id: str | None) -> str:
    """Per day and per calling run: a retry of one daily run joins its retrain, while a rerun of
    the day after a failed retrain starts a new one instead of joining the failed run."""
    return f"drift-retrain-{day.isoformat()}-{caller_run_id or 'no-run'}"


def _server_error(settings: Settings, what: str, exc: Exception) -> ShopguardError:
    return ShopguardError(f"Prefect server {settings.prefect_api_url} did not answer for {what}: "
                          f"{type(exc).__name__}: {first_line(exc)}")


def deployment_available(settings: Settings, deployment_name: str) -> bool:
    """True when the configured Prefect server has the retrain deployment, False when it has not.

    A server that is configured but fails to answer raises (one line naming it): falling back to
    an in-process retrain would hide the outage and let a second retrain start beside the served one.
    """
    if not settings.prefect_api_url:
        return False
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(deployment_name)
    except ObjectNotFound:
        return False
    except Exception as exc:  # httpx / Prefect errors: which one does not change what on-call does
        raise _server_error(settings, f"deployment {deployment_name}", exc) from exc
    return True


def automation_active(settings: Settings, automation_name: str) -> bool:
    """True when the configured server has ``automation_name`` enabled (then it starts the retrain)."""
    if not settings.prefect_api_url:
        return False
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            return any(a.enabled for a in client.read_automations_by_name(automation_name))
    except Exception as exc:
        raise _server_error(settings, f"automation {automation_name}", exc) from exc


def run_retrain_deployment(deployment_name: str, day: date, parameters: dict[str, Any]) -> Any:
    """Start (or join, thanks to the idempotency key) the retrain deployment and wait for it."""
    import prefect.runtime
    from prefect.deployments import run_deployment

    key = retrain_idempotency_key(day, prefect.runtime.flow_run.id)
    flow_run = run_deployment(name=deployment_name, parameters=parameters, idempotency_key=key, timeout=None)
    log.info("retrain deployment run %s ended %s", flow_run.id, flow_run.state_name)
    return flow_run


def _through_deployment(deployment_name: str, day: date, settings: Settings) -> RetrainSection:
    flow_run = run_retrain_deployment(deployment_name, day, {
        "end": day.isoformat(), "trigger": "drift", "data_dir": str(settings.data_dir)})
    result = read_retrain_result(DataLayout(settings.data_dir), str(flow_run.id))
    if result is not None:
        return result
    # the run died before it could record anything: say so (in the day's record, for on-call)
    # rather than guess from the registry
    section = RetrainSection(triggered=True, mode="deployment", flow_run_id=str(flow_run.id), state=flow_run.state_name,
                             error=f"retrain deployment run ended {flow_run.state_name} without a result")
    update_day_status(DataLayout(settings.data_dir), day, "retrain", section)
    return section


def launch_drift_retrain(day: date, settings: Settings, *, deployment_name: str, automation_name: str,
                         in_process: Callable[[], RetrainSection]) -> RetrainSection | None:
    """Start the day's drift retrain by the first path of the module doc that applies.

    Returns the retrain's result, or None when the drift automation runs it (it records itself).
    """
    if settings.prefect_api_url and deployment_available(settings, deployment_name):
        if automation_active(settings, automation_name):
            log.info("%s: drift retrain left to automation %s (it runs %s)", day, automation_name, deployment_name)
            return None
        return _through_deployment(deployment_name, day, settings)
    return in_process()


def record_launch_failure(settings: Settings, day: date, exc: Exception) -> None:
    """A launch that failed before the retrain could record its own failure (e.g. the server is down)."""
    layout = DataLayout(settings.data_dir)
    existing = read_day_record(layout, day).retrain
    if existing is not None and existing.error:
        return  # the retrain recorded its own, more precise failure
    update_day_status(layout, day, "retrain", {"triggered": True, "error": first_line(exc)})
