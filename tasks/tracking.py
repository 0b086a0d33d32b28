"""MLflow at the edges: one place that points the client at the store and owns the experiment.

Everything takes ``settings`` and uses ``settings.tracking_uri`` explicitly, so nothing depends on
the process environment and no stray ``./mlruns`` folder is ever written.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from tasks.errors import ShopguardError, first_line
from tasks.settings import Settings

log = logging.getLogger(__name__)

SYSTEM_METRICS_INTERVAL_SECONDS = 5
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
_TRACKING_ENV = "MLFLOW_TRACKING_URI"


def mlflow_client(settings: Settings) -> MlflowClient:
    # Registry explicit too: MlflowClient otherwise prefers the process-wide registry URI.
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def _is_local_store(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:", "/"))


def _set_global_uris(uri: str) -> None:
    """Point MLflow's fluent API at ``uri`` without leaking it into the process environment.

    ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI to ``os.environ``; Settings reads
    that variable, so a later ``Settings()`` in the same process would silently use this store.
    """
    previous = os.environ.get(_TRACKING_ENV)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if previous is None:
        os.environ.pop(_TRACKING_ENV, None)
    else:
        os.environ[_TRACKING_ENV] = previous


def configure_mlflow(settings: Settings) -> str:
    """Point MLflow at ``settings.tracking_uri`` and return the id of the retrain experiment.

    For a local store the experiment's artifacts live under ``settings.artifact_root``; a remote
    tracking server keeps its own (``--default-artifact-root``) so clients stay location-free.
    """
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    _set_global_uris(uri)
    client = mlflow_client(settings)
    try:
        experiment = client.get_experiment_by_name(settings.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        artifact_location = None
        if _is_local_store(uri):
            settings.artifact_root.mkdir(parents=True, exist_ok=True)
            artifact_location = settings.artifact_root.as_uri()
        # The kind tag makes the MLflow UI open on the training-runs table rather than the GenAI view.
        experiment_id = client.create_experiment(settings.experiment_name, artifact_location=artifact_location,
                                                 tags={EXPERIMENT_KIND_TAG: "custom_model_development"})
    except mlflow.exceptions.MlflowException as exc:
        raise ShopguardError(f"MLflow tracking store {uri} is not usable: {first_line(exc)}") from exc
    log.info("created MLflow experiment %s (%s) in %s", settings.experiment_name, experiment_id, uri)
    return experiment_id


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git sha of the working tree (``+dirty`` when it has local changes), or ``unknown``."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha


@contextmanager
def system_metrics(run_id: str, settings: Settings) -> Iterator[None]:
    """Sample CPU/memory/disk into ``run_id`` while the block runs (MLflow's system metrics).

    Started explicitly for a run id rather than through the fluent active-run stack, so it works
    however Prefect schedules the tasks that log into the run.
    """
    try:
        # MLflow's only public switch, start_run(log_system_metrics=True), needs the fluent active
        # run of this thread; Prefect may run the logging tasks in other threads, so the monitor
        # class that switch starts is used directly, bound to an explicit run id.
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError:  # psutil missing: training still works, only the charts are absent
        log.warning("system metrics disabled: psutil is not installed")
        yield
        return
    monitor = SystemMetricsMonitor(run_id, sampling_interval=SYSTEM_METRICS_INTERVAL_SECONDS,
                                   tracking_uri=settings.tracking_uri)
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()
