"""The monitor's ``shopguard.drift.detected`` event: what the drift automation (infra/automations.py) reacts to.

One event per drifted day that the rule wants retrained, on the data root's resource
(``shopguard.data-root.<hash>``), with the day, drift share, reasons, data root and champion
version in its payload. Its id is derived from (data root, day, the emitting flow run): a re-sent
event (the events client resends unconfirmed ones after a reconnect) is dropped by the server's
triggers service, which skips event ids it saw in the last 30 minutes; a rerun of the day is a new
run, so its event is new and reaches the retrain flow, whose rule then decides (a day already
retrained is a recorded no-op). Not (data root, day) alone: the server would swallow a rerun's
event for 30 minutes after a retrain that failed.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from tasks.monitoring.drift import DriftSummary
from tasks.monitoring.retrain_rule import RetrainDecision
from tasks.settings import Settings

log = logging.getLogger(__name__)

DRIFT_EVENT = "shopguard.drift.detected"
_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://shopguard/events")


def data_root_resource_id(data_dir: Path | str) -> str:
    """``shopguard.data-root.<12 hex>``: one resource per data root, so a shared server's
    automation fires only for the root it was applied for."""
    digest = hashlib.sha256(str(Path(data_dir).expanduser().resolve()).encode()).hexdigest()[:12]
    return f"shopguard.data-root.{digest}"


def drift_event_id(data_dir: Any, day: date, emitter: str | None) -> uuid.UUID:
    return uuid.uuid5(_EVENT_NAMESPACE, f"{data_root_resource_id(data_dir)}/{day.isoformat()}/{emitter or '-'}")


def drift_event_payload(day: date, settings: Settings, summary: DriftSummary, decision: RetrainDecision,
                        model_version: str | None) -> dict[str, Any]:
    return {"day": day.isoformat(), "drift_share": summary.drift_share, "reasons": list(decision.reasons),
            "data_dir": str(settings.data_dir), "model_version": model_version}


def emit_drift_event(day: date, settings: Settings, summary: DriftSummary, decision: RetrainDecision,
                     model_version: str | None, emitter: str | None = None) -> Any:
    """Emit the day's drift event (sent in the background by Prefect's events worker); the Event.

    ``emitter`` (default: the current flow run's id) makes the id deterministic per run.
    """
    from prefect.events import emit_event

    if emitter is None:
        import prefect.runtime

        emitter = prefect.runtime.flow_run.id
    event = emit_event(
        event=DRIFT_EVENT,
        resource={"prefect.resource.id": data_root_resource_id(settings.data_dir),
                  "prefect.resource.name": str(settings.data_dir), "shopguard.day": day.isoformat()},
        payload=drift_event_payload(day, settings, summary, decision, model_version),
        id=drift_event_id(settings.data_dir, day, emitter),
    )
    log.info("%s: emitted %s (%s)", day, DRIFT_EVENT, getattr(event, "id", "not sent: no Prefect API"))
    return event
