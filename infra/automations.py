"""shopguard's Prefect automation: a ``shopguard.drift.detected`` event runs the retrain deployment.

- ``shopguard-drift-retrain-<hash>``, one per data root: on each drift event of that root
  (matched by its resource id, ``shopguard.data-root.<hash>``), run ``shopguard-retrain/retrain`` with ``trigger="drift"``,
  ``end`` = the event's day and ``data_dir`` = the event's data root.

The automation only starts the retrain; whether it retrains is the retrain flow's call (the rule
in tasks.monitoring.retrain_rule, applied under the retrain guard), so a duplicated event or a day
inside the cooldown is a recorded no-op. `shopguard serve` (and `make up`) call
``apply_automations`` after the deployments exist; it creates or updates by name, so reruns are safe.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from infra.deployments import RETRAIN_DEPLOYMENT
from tasks.errors import ShopguardError, first_line
from tasks.monitoring.drift_event import DRIFT_EVENT, data_root_resource_id
from tasks.settings import Settings

DRIFT_AUTOMATION_PREFIX = "shopguard-drift-retrain"


def drift_automation_name(data_dir: Any) -> str:
    """Named per data root: a server shared by several roots keeps one automation for each, and
    the daily flow of one root never mistakes another root's automation for its own."""
    return f"{DRIFT_AUTOMATION_PREFIX}-{data_root_resource_id(data_dir).rsplit('.', 1)[-1]}"


def drift_automation(settings: Settings, retrain_deployment_id: Any) -> Any:
    """The automation as a Prefect ``AutomationCore`` (parameters templated from the event)."""
    from prefect.automations import AutomationCore, EventTrigger, Posture, RunDeployment

    return AutomationCore(
        name=drift_automation_name(settings.data_dir),
        description=f"Drift detected for {settings.data_dir}: run {RETRAIN_DEPLOYMENT} for that day "
                    "(the retrain flow applies the cooldown).",
        enabled=True,
        tags=["shopguard"],
        trigger=EventTrigger(
            expect={DRIFT_EVENT},
            match={"prefect.resource.id": data_root_resource_id(settings.data_dir)},
            posture=Posture.Reactive, threshold=1, within=timedelta(0),
        ),
        actions=[RunDeployment(
            source="selected", deployment_id=retrain_deployment_id,
            parameters={"end": "{{ event.payload.day }}", "trigger": "drift",
                        "data_dir": "{{ event.payload.data_dir }}"},
        )],
    )


def apply_automations(settings: Settings) -> list[str]:
    """Create or update shopguard's automations on the configured Prefect server; their ids.

    Needs the retrain deployment to exist (register the deployments first). Raises one line when
    there is no server, no deployment, or the server refuses.
    """
    if not settings.prefect_api_url:
        raise ShopguardError("no Prefect server configured: set PREFECT_API_URL before creating automations")
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            try:
                deployment = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
            except ObjectNotFound:
                raise ShopguardError(f"deployment {RETRAIN_DEPLOYMENT} is not on {settings.prefect_api_url}: "
                                     "register the deployments before the automations") from None
            wanted = drift_automation(settings, deployment.id)
            existing = client.read_automations_by_name(wanted.name)
            if not existing:
                return [str(client.create_automation(wanted))]
            keep, *extra = existing
            client.update_automation(keep.id, wanted)
            for duplicate in extra:  # two racing `serve`s may each have created one
                client.delete_automation(duplicate.id)
            return [str(keep.id)]
    except ShopguardError:
        raise
    except Exception as exc:  # httpx / Prefect errors: name the server either way
        raise ShopguardError(f"Prefect server {settings.prefect_api_url} refused automation {drift_automation_name(settings.data_dir)}: "
                             f"{type(exc).__name__}: {first_line(exc)}") from exc

