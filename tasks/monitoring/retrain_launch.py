"""Starting a drift retrain: through the Prefect deployment when one is served, else in-process.

Both paths run at most one retrain at a time: the train flow itself holds the retrain guard
(tasks.registry.retrain_guard), whichever way it was started.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tasks.errors import ShopguardError, first_line
from tasks.registry.contract import FLOW_RUN_TAG
from tasks.settings import Settings

log = logging.getLogger(__name__)


def retrain_idempotency_key(day: date) -> str:
    return f"drift-retrain-{day.isoformat()}"


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
        raise ShopguardError(f"Prefect server {settings.prefect_api_url} did not answer for deployment "
                             f"{deployment_name}: {type(exc).__name__}: {first_line(exc)}") from exc
    return True


def run_retrain_deployment(deployment_name: str, day: date, parameters: dict[str, Any]) -> Any:
    """Start (or join, thanks to the per-day idempotency key) the retrain deployment and wait for it."""
    from prefect.deployments import run_deployment

    flow_run = run_deployment(name=deployment_name, parameters=parameters,
                              idempotency_key=retrain_idempotency_key(day), timeout=None)
    log.info("retrain deployment run %s ended %s", flow_run.id, flow_run.state_name)
    return flow_run


def retrain_model_version(settings: Settings, flow_run_id: str) -> dict[str, str | None] | None:
    """The version the retrain flow run ``flow_run_id`` registered, with its promotion tags.

    Looked up by that run's own tag, never "the newest version": another retrain may have
    registered one since (None when this run registered nothing).
    """
    from tasks.tracking import mlflow_client

    client = mlflow_client(settings)
    versions = client.search_model_versions(
        f"name='{settings.registered_model_name}' and tags.{FLOW_RUN_TAG} = '{flow_run_id}'")
    if not versions:
        return None
    version = versions[0]
    tags = dict(version.tags or {})
    return {"version": str(version.version), "run_id": version.run_id or tags.get("run_id"),
            "promotion_decision": tags.get("promotion_decision"), "promotion_reason": tags.get("promotion_reason"),
            "trigger": tags.get("trigger")}
