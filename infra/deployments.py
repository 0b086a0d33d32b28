"""shopguard's scheduled deployments, declared once from settings (served by `shopguard serve`).

- ``shopguard-daily/daily-scoring``: every day at ``schedule.scoring_cron`` (02:00 UTC by default)
  runs the daily flow for the previous day (``day`` left empty means yesterday in UTC).
- ``shopguard-retrain/retrain``: ``schedule.retrain_cron`` (Mondays 04:00 UTC by default) retrains
  on the window ending yesterday; drift starts it too, with ``trigger="drift"``, an ``end`` day and
  an idempotency key per day. At most one retrain runs at a time (concurrency limit 1).

Plain declarations here; flows/serve.py turns them into Prefect deployments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.settings import Settings

DAILY_FLOW_NAME = "shopguard-daily"
RETRAIN_FLOW_NAME = "shopguard-retrain"
DAILY_DEPLOYMENT = f"{DAILY_FLOW_NAME}/daily-scoring"
RETRAIN_DEPLOYMENT = f"{RETRAIN_FLOW_NAME}/retrain"


@dataclass(frozen=True)
class DeploymentSpec:
    flow_name: str
    name: str
    cron: str
    timezone: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int | None = None
    tags: tuple[str, ...] = ("shopguard",)

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


def deployment_specs(settings: Settings) -> list[DeploymentSpec]:
    data_dir = str(settings.data_dir)
    return [
        DeploymentSpec(
            flow_name=DAILY_FLOW_NAME, name="daily-scoring", cron=settings.schedule.scoring_cron,
            timezone=settings.schedule.timezone, parameters={"data_dir": data_dir},
            description="Validate, build features, score and monitor the previous day (UTC); retrain on drift.",
            concurrency_limit=1,
        ),
        DeploymentSpec(
            flow_name=RETRAIN_FLOW_NAME, name="retrain", cron=settings.schedule.retrain_cron,
            timezone=settings.schedule.timezone, parameters={"data_dir": data_dir, "trigger": "schedule"},
            description="Retrain on the window ending yesterday (or `end`); the promotion gate decides.",
            concurrency_limit=1,
        ),
    ]
