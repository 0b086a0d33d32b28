"""Where sweep trials run: a thread pool in this process, or a Dask cluster's workers.

Both take a batch of calls and return their results in the batch's order, so the sweep that
drives them (ask a batch, run it, tell in trial order) proposes the same trials and picks the
same best for a seed on either. The trial data is shipped to the cluster once, not per trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

Call = tuple[Callable[..., Any], tuple[Any, ...]]


class TrialExecutor(Protocol):
    def share(self, value: Any) -> Any:
        """A handle to ``value`` that calls may take as an argument (shipped once)."""

    def run(self, calls: Sequence[Call], errors: tuple[type[BaseException], ...]) -> list[Any]:
        """Each call's result, or the exception it raised if it is one of ``errors``, in order."""


class ThreadExecutor:
    def __init__(self, n_jobs: int) -> None:
        self.n_jobs = n_jobs

    def share(self, value: Any) -> Any:
        return value

    def run(self, calls: Sequence[Call], errors: tuple[type[BaseException], ...]) -> list[Any]:
        def guarded(call: Call) -> Any:
            fn, args = call
            try:
                return fn(*args)
            except errors as exc:
                return exc

        if self.n_jobs == 1 or len(calls) == 1:
            return [guarded(c) for c in calls]
        with ThreadPoolExecutor(max_workers=self.n_jobs) as pool:
            return list(pool.map(guarded, calls))


class DaskExecutor:
    def __init__(self, client: Any) -> None:
        self.client = client

    def share(self, value: Any) -> Any:
        return self.client.scatter(value, broadcast=True, hash=False)

    def run(self, calls: Sequence[Call], errors: tuple[type[BaseException], ...]) -> list[Any]:
        # pure=False: two trials with equal parameters are still two runs
        futures = [self.client.submit(fn, *args, pure=False) for fn, args in calls]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except errors as exc:  # re-raised here with the worker's exception type
                results.append(exc)
        return results


@contextmanager
def trial_executor(dask_address: str | None, n_jobs: int) -> Iterator[TrialExecutor]:
    """A Dask executor on ``dask_address`` when given, else ``n_jobs`` threads here."""
    if not dask_address:
        yield ThreadExecutor(n_jobs)
        return
    from distributed import Client

    with Client(dask_address, set_as_default=False) as client:
        yield DaskExecutor(client)
