"""One retrain at a time: the single guard around every path that can move the champion alias.

Scheduled and drift retrains, a manual ``shopguard train`` and ``shopguard promote`` all enter
``retrain_guard``. It always takes an exclusive ``flock`` on a file in the data root's state
folder (the kernel drops the lock when its holder dies, so a crash cannot leave it behind), and,
when a Prefect server is configured, also a slot of the Prefect global concurrency limit
``retrain`` (1 slot; leases expire when their holder dies), so retrains on other machines that
share the server wait too. The second caller waits up to ``wait_seconds``, then fails with one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tasks.errors import ShopguardError, first_line
from tasks.locks import LockBusy, file_lock
from tasks.settings import Settings

log = logging.getLogger(__name__)

RETRAIN_LIMIT = "retrain"
RETRAIN_LIMIT_SLOTS = 1


class RetrainBusy(LockBusy):
    """Another retrain or promotion held the guard for longer than we were willing to wait."""


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / "state" / "retrain.flock"


@contextmanager
def _prefect_slot(api_url: str, wait_seconds: float) -> Iterator[None]:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    try:
        with get_client(sync_client=True) as client:
            client.upsert_global_concurrency_limit_by_name(RETRAIN_LIMIT, RETRAIN_LIMIT_SLOTS)
    except Exception as exc:  # the server's own error types vary (httpx, Prefect): name the server
        raise ShopguardError(f"Prefect server {api_url} is not usable for the {RETRAIN_LIMIT!r} "
                             f"concurrency limit: {type(exc).__name__}: {first_line(exc)}") from exc
    try:
        with ExitStack() as stack:
            try:
                stack.enter_context(concurrency(RETRAIN_LIMIT, occupy=1, timeout_seconds=wait_seconds, strict=True))
            except TimeoutError:
                raise RetrainBusy(f"another retrain or promotion holds Prefect concurrency limit {RETRAIN_LIMIT!r} "
                                  f"at {api_url} (waited {wait_seconds:g} s); try again when it ends") from None
            yield
    finally:
        _stop_slot_acquisition_service()


def _stop_slot_acquisition_service() -> None:
    """Prefect (3.8) acquires slots through one service per limit name and process, whose client
    is bound to the API it first met, while it renews and releases the lease on the current API. A
    process that later points at another server (a notebook, the test suite) would take its lease
    from the old server and have every renewal refused (410) on the new one, which cancels the
    run. Stopping the service once the guard ends makes the next guard bind to its own server."""
    from prefect.concurrency.services import ConcurrencySlotAcquisitionWithLeaseService

    ConcurrencySlotAcquisitionWithLeaseService.instance(frozenset([RETRAIN_LIMIT])).drain()


@contextmanager
def retrain_guard(settings: Settings, purpose: str) -> Iterator[None]:
    """Hold the retrain guard for ``purpose`` (e.g. "train 2026-01-07"); see the module doc."""
    wait = settings.training.retrain_wait_seconds
    started = time.monotonic()
    with ExitStack() as stack:
        if settings.prefect_api_url:
            stack.enter_context(_prefect_slot(settings.prefect_api_url, wait))
        try:
            stack.enter_context(file_lock(lock_path(settings), wait,
                                          f"another retrain or promotion is running in {settings.data_dir}"))
        except LockBusy as exc:
            raise RetrainBusy(str(exc)) from None
        waited = time.monotonic() - started
        if waited > 1:
            log.info("%s waited %.0f s for the retrain guard", purpose, waited)
        yield
