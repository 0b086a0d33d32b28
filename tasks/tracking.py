"""MLflow at the edges: one place that points the client at the store and owns the experiment.

Everything takes ``settings`` and uses ``settings.tracking_uri`` explicitly, so nothing depends on
the process environment and no stray ``./mlruns`` folder is ever written.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, redirect_stderr
from functools import lru_cache
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from tasks.errors import ShopguardError, first_line
from tasks.locks import file_lock
from tasks.mlflow_links import holds_review_view, review_view_tag
from tasks.settings import Settings

log = logging.getLogger(__name__)

SYSTEM_METRICS_INTERVAL_SECONDS = 5
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
_TRACKING_ENV = "MLFLOW_TRACKING_URI"


# MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) take minutes to give up on a
# server that is down, and Prefect task retries multiplied that: these bound one request to about
# a minute (4 tries of at most 15 s, ~7 s of backoff), and MLflow-facing tasks do not retry on top.
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
_STORE_LOCK_WAIT_SECONDS = 300
_checked_stores: set[Path] = set()
_rebased_stores: set[tuple[Path, Path]] = set()


@contextmanager
def mlflow_prints_as_debug() -> Iterator[None]:
    """MLflow's registry announces itself with bare prints to stderr ("Successfully registered model
    ...", "Created version ..."), not through a logger: catch them and log them at DEBUG, so they
    show with -v only. Meant for short calls in the calling thread (it swaps ``sys.stderr``).
    """
    buffer = io.StringIO()
    try:
        with redirect_stderr(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                log.debug("mlflow: %s", line.strip())


def bound_http_retries() -> None:
    """Apply HTTP_LIMITS unless the user set their own (MLflow reads them on every request)."""
    for key, value in HTTP_LIMITS.items():
        os.environ.setdefault(key, value)


def mlflow_client(settings: Settings) -> MlflowClient:
    bound_http_retries()
    if settings.tracking_uri.startswith("sqlite:///"):
        store = Path(settings.tracking_uri.removeprefix("sqlite:///"))
        ensure_sqlite_store(store)
        _follow_moved_root(store, settings)
    # Registry explicit too: MlflowClient otherwise prefers the process-wide registry URI.
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def _follow_moved_root(store: Path, settings: Settings) -> None:
    """The data root's own store keeps its artifacts beside it: follow a moved root (tasks.store_paths)."""
    key = (store, settings.artifact_root)
    if key in _rebased_stores or store.resolve() != (settings.data_dir / "mlflow" / "mlflow.db").resolve():
        return
    from tasks.store_paths import rebase_artifact_paths

    try:
        rebase_artifact_paths(store, settings.artifact_root)
    except sqlite3.Error as exc:
        raise ShopguardError(f"MLflow store {store}: could not rewrite the artifact paths of a moved data root: "
                             f"{first_line(exc)}") from exc
    _rebased_stores.add(key)


def ensure_sqlite_store(path: Path) -> None:
    """Make sure ``path`` is a complete MLflow sqlite store, building it crash-safely if needed.

    MLflow creates and migrates a new store in place, so a kill or a full disk part-way leaves a
    file every later command refuses. Here the store is built in a hidden sibling file and renamed
    into place only once complete, under a lock so two first commands do not both build one. An
    incomplete store left by older code is moved aside and rebuilt when it holds no runs.
    """
    if path in _checked_stores and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(f".{path.name}.lock"), _STORE_LOCK_WAIT_SECONDS,
                   f"another command is creating the MLflow store {path}"):
        for leftover in path.parent.glob(f".{path.name}.creating-*"):  # from a build killed mid-way
            leftover.unlink(missing_ok=True)
        if path.exists():
            problem = sqlite_store_problem(path)
            if problem is None:
                _checked_stores.add(path)
                return
            if _holds_records(path):
                raise ShopguardError(f"MLflow store {path} is damaged ({problem}) but holds runs or models; "
                                     f"restore it from a backup")
            aside = path.with_name(f"{path.name}.incomplete-{uuid.uuid4().hex[:8]}")
            os.replace(path, aside)
            log.warning("MLflow store %s was incomplete (%s) and empty: moved to %s, building a new one",
                        path, problem, aside.name)
        _build_sqlite_store(path)
        _checked_stores.add(path)


def _build_sqlite_store(path: Path) -> None:
    building = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
    try:
        # Any client call creates and migrates the tables of a new sqlite store.
        MlflowClient(tracking_uri=f"sqlite:///{building}").search_experiments(max_results=1)
        problem = sqlite_store_problem(building)
        if problem is not None:
            raise ShopguardError(f"building the MLflow store {path} failed: {problem}")
        os.replace(building, path)
    except Exception as exc:  # OSError, SQLAlchemy, alembic or MLflow errors alike: the build failed
        raise ShopguardError(f"could not create the MLflow store {path}: {first_line(exc)}") from exc
    finally:
        building.unlink(missing_ok=True)
    log.info("created MLflow store %s", path)


def sqlite_store_problem(path: Path) -> str | None:
    """Why ``path`` is not a completely migrated MLflow store (None when it is)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" not in tables:
                return "no schema version"
            leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
            if leftovers:
                return f"migration interrupted ({leftovers[0]})"
            if db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] != 1:
                return "no schema version"
    except sqlite3.Error as exc:
        return f"unreadable: {exc}"
    return None


def _holds_records(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            return any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None  # noqa: S608
                       for t in ("runs", "registered_models") if t in tables)
    except sqlite3.Error:
        return True  # cannot tell: never move aside what might be someone's history


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
    _set_global_uris(uri)
    try:
        client = mlflow_client(settings)
        experiment = client.get_experiment_by_name(settings.experiment_name)
        view_key, view_value = review_view_tag(now_ms=int(time.time() * 1000))
        if experiment is not None:
            if not holds_review_view(experiment.tags.get(view_key)):  # experiments made before the view
                client.set_experiment_tag(experiment.experiment_id, view_key, view_value)
            return experiment.experiment_id
        artifact_location = None
        if _is_local_store(uri):
            settings.artifact_root.mkdir(parents=True, exist_ok=True)
            artifact_location = settings.artifact_root.as_uri()
        # The kind tag makes the MLflow UI open on the training-runs table rather than the GenAI view;
        # the saved view is what the printed runs-table URL opens (see tasks.mlflow_links).
        experiment_id = client.create_experiment(settings.experiment_name, artifact_location=artifact_location,
                                                 tags={EXPERIMENT_KIND_TAG: "custom_model_development",
                                                       view_key: view_value})
    except mlflow.exceptions.MlflowException as exc:
        raise ShopguardError(f"MLflow tracking store {uri} is not usable: {first_line(exc)}") from exc
    log.info("created MLflow experiment %s (%s) in %s", settings.experiment_name, experiment_id, uri)
    return experiment_id


def fail_abandoned_runs(settings: Settings, experiment_id: str) -> int:
    """Mark every RUNNING run of the experiment FAILED; call only while holding the retrain guard.

    A retrain killed mid-way (kill -9, power loss) never ends its runs; with the guard held no
    live retrain owns a run, so whatever is still RUNNING was abandoned.
    """
    client = mlflow_client(settings)
    abandoned = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
    for run in abandoned:
        client.set_terminated(run.info.run_id, status="FAILED")
    if abandoned:
        log.warning("marked %d abandoned RUNNING run(s) FAILED (a retrain died mid-way)", len(abandoned))
    return len(abandoned)


def end_run_quietly(settings: Settings, run_id: str, status: str) -> None:
    """End ``run_id`` if the store answers; otherwise the next retrain marks it (fail_abandoned_runs)."""
    try:
        mlflow_client(settings).set_terminated(run_id, status=status)
    except Exception as exc:  # already failing: the original error is the one to report
        log.warning("could not mark run %s %s: %s", run_id, status, first_line(exc))


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
