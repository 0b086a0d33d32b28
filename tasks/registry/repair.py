"""Close what a retrain killed during registration left in the registry (call under the retrain guard).

A retrain registers its version, tags it, records the decision (``promotion_decision`` last) and
only then moves the aliases (champion last). A kill -9 anywhere in that sequence leaves either a
version with no decision, or a version recorded ``promoted`` whose champion alias never moved.
Neither ever served (scoring loads only ``@champion``), but a reviewer would see a dangling
version or a promotion that did not happen. The next retrain marks them ``abandoned``.
"""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from tasks.registry.contract import CHAMPION, PREVIOUS_CHAMPION

log = logging.getLogger(__name__)

ABANDONED = "abandoned"
APPLIED_TAG = "decision_applied"  # written after the aliases moved: the decision took effect


def _alias(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _promotion_never_applied(version: ModelVersion, champion: str | None, previous: str | None) -> bool:
    """``promoted`` on the newest version but the champion alias never reached it.

    A completed promotion carries ``decision_applied``; in stores older than that tag, one later
    rolled back still has previous-champion on it (``promote`` moves it there).
    """
    vid = str(version.version)
    return (version.tags.get("promotion_decision") == "promoted" and APPLIED_TAG not in version.tags
            and champion != vid and previous != vid)


def mark_abandoned_versions(client: MlflowClient, name: str) -> list[str]:
    """Tag every half-registered version ``promotion_decision=abandoned``; returns their numbers."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return []  # no registered model yet
    if not versions:
        return []
    champion, previous = _alias(client, name, CHAMPION), _alias(client, name, PREVIOUS_CHAMPION)
    newest = max(versions, key=lambda v: int(v.version))
    abandoned = [v for v in versions if "promotion_decision" not in v.tags]
    if newest not in abandoned and _promotion_never_applied(newest, champion, previous):
        abandoned.append(newest)
    for version in sorted(abandoned, key=lambda v: int(v.version)):
        vid = str(version.version)
        reason = (f"the retrain that registered it died before its decision took effect; "
                  f"champion stayed {champion or 'unset'}")
        client.set_model_version_tag(name, vid, "promotion_reason", reason)
        client.set_model_version_tag(name, vid, "promotion_decision", ABANDONED)
        client.update_model_version(name, vid, description=f"{ABANDONED}: {reason}")
    if abandoned:
        log.warning("marked %s version(s) %s %s (a retrain died during registration)", name,
                    ", ".join(str(v.version) for v in abandoned), ABANDONED)
    return [str(v.version) for v in abandoned]
