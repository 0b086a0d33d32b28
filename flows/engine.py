"""Where a flow's tasks run: a Dask cluster when ``Settings.dask_address`` is set, else in-process.

The sharded steps are small subflows that take this runner; everything else stays on the
calling flow's default runner, so the output is the same either way (only the engine differs).
"""

from __future__ import annotations

from typing import Any

from tasks.settings import Settings


def uses_dask(settings: Settings) -> bool:
    return bool(settings.dask_address)


def dask_task_runner(settings: Settings) -> Any:
    """prefect-dask's runner connected to the configured scheduler (imported only when used)."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=settings.dask_address)
