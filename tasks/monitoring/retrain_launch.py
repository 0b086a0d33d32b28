"""Starting a drift retrain: through the Prefect deployment when one is served, else in-process.

Both paths run at most one retrain at a time: the deployment has ``concurrency_limit=1`` and the
in-process path holds a lock file under the data root's state folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from tasks.errors import ShopguardError
from tasks.layout import DataLayout
from tasks.settings import Settings

log = logging.getLogger(__name__)


class RetrainBusy(ShopguardError):
    """Another retrain holds the lock."""


@dataclass(frozen=True)
class RetrainOutcome:
    """What on-call sees about a retrain: where it ran and what the promotion gate decided."""

    triggered: bool
    mode: str  # "deployment" or "in-process"
    flow_run_id: str | None = None
    state: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    promotion_decision: str | None = None
    promotion_reason: str | None = None
    error: str | None = None  # the retrain did not finish; the on-call page shows this instead of a decision


def retrain_idempotency_key(day: date) -> str:
    return f"drift-retrain-{day.isoformat()}"


def deployment_available(settings: Settings, deployment_name: str) -> bool:
    """True when a Prefect server is configured and has the retrain deployment registered."""
    if not settings.prefect_api_url:
        return False
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(deployment_name)
    except ObjectNotFound:
        return False
    except Exception as exc:  # server down or unreachable: fall back to in-process
        log.warning("Prefect server %s not usable (%s); retraining in-process", settings.prefect_api_url, exc)
        return False
    return True


def run_retrain_deployment(deployment_name: str, day: date, parameters: dict[str, Any]) -> Any:
    """Start (or join, thanks to the per-day idempotency key) the retrain deployment and wait for it."""
    from prefect.deployments import run_deployment

    flow_run = run_deployment(name=deployment_name, parameters=parameters,
                              idempotency_key=retrain_idempotency_key(day), timeout=None)
    log.info("retrain deployment run %s ended %s", flow_run.id, flow_run.state_name)
    return flow_run


@contextmanager
def retrain_lock(layout: DataLayout) -> Iterator[None]:
    """Concurrency 1 for in-process retrains: an exclusive lock file, removed on exit."""
    layout.state.mkdir(parents=True, exist_ok=True)
    path = layout.state / "retrain.lock"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise RetrainBusy(f"another retrain is running (lock {path}); remove it if that process is gone") from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        path.unlink(missing_ok=True)


def newest_model_version(settings: Settings) -> dict[str, str | None] | None:
    """The most recently registered version with its promotion tags (None when there is none)."""
    from tasks.tracking import mlflow_client

    client = mlflow_client(settings)
    versions = client.search_model_versions(f"name='{settings.registered_model_name}'")
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    tags = dict(newest.tags or {})
    return {"version": str(newest.version), "run_id": newest.run_id or tags.get("run_id"),
            "promotion_decision": tags.get("promotion_decision"), "promotion_reason": tags.get("promotion_reason"),
            "trigger": tags.get("trigger")}
