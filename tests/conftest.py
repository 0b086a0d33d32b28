"""Shared fixtures. Prefect and MLflow are real; they only get private temp homes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before prefect is imported anywhere: a private PREFECT_HOME, no analytics, quiet logs.
_PREFECT_HOME = tempfile.mkdtemp(prefix="shopguard-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

import pytest  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    """Files with slow tests first: `make test` hands whole files to two xdist workers in this
    order, so the long ones start early instead of leaving one worker busy at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: file order kept within each group


@pytest.fixture(autouse=True)
def _restore_environment():
    """The CLI points MLflow and Prefect at its data root through os.environ; undo that per test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (starting one costs ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def settings(tmp_path):
    """Settings rooted in a fresh temp data dir, with a private sqlite MLflow store."""
    from tasks.settings import Settings

    # Explicit None: an MLFLOW_TRACKING_URI left in the environment by mlflow must not leak in.
    return Settings(data_dir=tmp_path / "data", mlflow_tracking_uri=None, prefect_api_url=None)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
