"""`shopguard serve`: register the scheduled deployments (infra/deployments.py) and run them.

The deployed flows take plain parameters (a day that defaults to yesterday in UTC, the data root)
and read the rest of the settings at their boundary, because a Settings object cannot be a
schedule's parameter.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow

from infra.deployments import DAILY_FLOW_NAME, RETRAIN_FLOW_NAME, DeploymentSpec, deployment_specs
from tasks.errors import ShopguardError
from tasks.settings import Settings

log = logging.getLogger(__name__)


def yesterday_utc(now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)) - timedelta(days=1)).date()


def _settings_for(data_dir: str | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir else Settings()


def _scheduled_run_name(stage: str, day_parameter: str, suffix: str = "") -> Callable[[], str]:
    """Run names like the CLI's (``daily 2026-01-11``), with the default day filled in."""
    def name() -> str:
        from prefect.runtime import flow_run

        parameters = flow_run.parameters
        extra = f" ({parameters.get(suffix, 'schedule')})" if suffix else ""
        return f"{stage} {parameters.get(day_parameter) or yesterday_utc()}{extra}"

    return name


@flow(name=DAILY_FLOW_NAME, flow_run_name=_scheduled_run_name("daily", "day"))
def scheduled_daily_flow(day: date | None = None, data_dir: str | None = None) -> str:
    """The daily flow for ``day`` (default: yesterday in UTC)."""
    from flows.daily import daily_flow

    return daily_flow(day=day or yesterday_utc(), settings=_settings_for(data_dir))


@flow(name=RETRAIN_FLOW_NAME, flow_run_name=_scheduled_run_name("train", "end", suffix="trigger"))
def scheduled_retrain_flow(end: date | None = None, trigger: str = "schedule", data_dir: str | None = None) -> Any:
    """A retrain on the window ending ``end`` (default: yesterday in UTC); a drift retrain
    (``trigger="drift"``, started by the drift automation) first applies the retrain rule."""
    from flows.train import drift_retrain_flow, train_flow

    settings = _settings_for(data_dir)
    if trigger == "drift":
        return drift_retrain_flow(day=end or yesterday_utc(), settings=settings)
    return train_flow(end=end or yesterday_utc(), settings=settings, trigger=trigger)


_FLOWS = {DAILY_FLOW_NAME: scheduled_daily_flow, RETRAIN_FLOW_NAME: scheduled_retrain_flow}


def build_deployments(settings: Settings) -> list[Any]:
    """Prefect RunnerDeployments for the declared specs (cron in the configured timezone)."""
    from prefect.schedules import Cron

    def build(spec: DeploymentSpec) -> Any:
        return _FLOWS[spec.flow_name].to_deployment(
            name=spec.name, schedules=[Cron(spec.cron, timezone=spec.timezone)], parameters=spec.parameters,
            concurrency_limit=spec.concurrency_limit, description=spec.description, tags=list(spec.tags),
        )

    return [build(spec) for spec in deployment_specs(settings)]


_ENTRYPOINTS = {DAILY_FLOW_NAME: "flows/serve.py:scheduled_daily_flow",
                RETRAIN_FLOW_NAME: "flows/serve.py:scheduled_retrain_flow"}


def deploy_to_pool(settings: Settings, pool: str, source: Path) -> list[str]:
    """Deploy the specs to the process work pool ``pool``, code from the source folder ``source``.

    A worker polling the pool runs them (`make up` starts one); nothing is built or pushed: the
    worker's machine has this folder. Creates the pool when missing. Returns the deployment names.
    """
    from prefect import deploy
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.schedules import Cron
    from prefect.workers.process import ProcessWorker

    _require_server(settings)
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
    specs = deployment_specs(settings)
    deployments = [
        _FLOWS[spec.flow_name].from_source(source=str(source), entrypoint=_ENTRYPOINTS[spec.flow_name]).to_deployment(
            name=spec.name, schedules=[Cron(spec.cron, timezone=spec.timezone)], parameters=spec.parameters,
            concurrency_limit=spec.concurrency_limit, description=spec.description, tags=list(spec.tags))
        for spec in specs
    ]
    deploy(*deployments, work_pool_name=pool, build=False, push=False, print_next_steps_message=False,
           ignore_warnings=True)
    return [spec.full_name for spec in specs]


def _require_server(settings: Settings) -> None:
    if not settings.prefect_api_url:
        raise ShopguardError("no Prefect server configured: set PREFECT_API_URL (e.g. after `make up`, "
                             "http://127.0.0.1:4200/api) before `shopguard serve`")


def register_deployments(settings: Settings) -> list[str]:
    """Create or update the deployments, then the automations that run them; returns the deployments' ids."""
    from infra.automations import apply_automations

    _require_server(settings)
    ids = [str(deployment.apply()) for deployment in build_deployments(settings)]
    apply_automations(settings)  # after the deployments: the drift automation names the retrain one
    return ids


def _report(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()  # a supervisor reading the pipe learns at once that a signal now stops serve cleanly


def serve(settings: Settings, run_once: bool = False) -> None:
    """Register the deployments; unless ``run_once``, keep running their scheduled runs."""
    specs = deployment_specs(settings)
    summary = [f"  {s.full_name:<34} cron '{s.cron}' ({s.timezone})" for s in specs]
    if run_once:
        register_deployments(settings)
        _report(["registered deployments (registered only: nothing runs them until `shopguard serve` "
                 "without --run-once, or a worker, does):", *summary,
                 f"Prefect UI: {settings.prefect_api_url.removesuffix('/api')}"])
        return
    register_deployments(settings)  # the runner re-applies them; the automations need them to exist first
    serving = ["serving deployments (Ctrl-C or SIGTERM stops; the schedules stay on and runs due "
               "meanwhile wait as Late until the next `shopguard serve`):", *summary]
    asyncio.run(_serve_until_stopped(build_deployments(settings), serving))
    _report(["stopped serving; deployments and schedules left as they were"])


async def _serve_until_stopped(deployments: list[Any], serving: list[str]) -> None:
    """Run a Prefect Runner for ``deployments`` until SIGINT or SIGTERM, then shut it down in order.

    Not ``prefect.serve``: its SIGTERM handler calls the runner's sync ``stop`` from inside the event
    loop (a never-awaited ``Runner.astop``), and it pauses every schedule on the way out, so a
    restarted ``serve`` would find its deployments paused. ``serving`` is printed once a signal
    stops it cleanly, whenever the signal comes.
    """
    from prefect.runner import Runner

    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    _report(serving)
    runner = Runner(pause_on_shutdown=False)
    # Runner.start installs runner.handle_sigterm as the SIGTERM handler (a never-awaited astop,
    # then SystemExit, even in the middle of its own start-up): make that handler this stop instead.
    # Prefect has no option to leave signals alone; call_soon_threadsafe is safe in a signal handler.
    runner.handle_sigterm = lambda *_: loop.call_soon_threadsafe(stop_requested.set)
    for deployment in deployments:
        await runner.add_deployment(deployment)
    if stop_requested.is_set():
        return
    running = asyncio.create_task(runner.start())
    waiting = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    # Cancel the start task only once the runner's context is entered: leaving it then cancels the
    # runner's loops in order (cancelled half-way into it, its client and observers would leak).
    while not runner.started and not running.done():
        await asyncio.sleep(0.05)
    running.cancel()
    try:
        await running
    except asyncio.CancelledError:
        log.info("serve: stop requested; runner shut down")
