"""What a person sees on the terminal: one line per stage per day, tracebacks only on request.

Prefect's own flow- and task-run records still reach the Prefect UI (their API handler sits on
Prefect's loggers); this only filters the console handler. Progress bars are for a person who
waits at a terminal: when stderr is not a TTY every tqdm bar (Optuna's included) is turned off.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

NOISY_LIBRARIES = ("alembic", "urllib3", "httpx", "numba", "matplotlib", "PIL", "great_expectations", "mlflow")
# Prefect's run loggers: "Beginning flow run", "Finished in state Completed()", and on a failure
# the same traceback twice before the command's own one-line error.
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
T = TypeVar("T")



class QuietConsole(logging.Filter):
    """Drop Prefect's per-run chatter and failure tracebacks, and GX's per-run notices (kept with -v)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(PREFECT_RUN_LOGGERS):
            return False
        # e.g. "Created temporary directory '/tmp/...' for ephemeral docs site", once per validation
        return not (record.name.startswith("great_expectations") and record.levelno < logging.WARNING)


def configure_logging(level: str, verbose: bool) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in NOISY_LIBRARIES:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(QuietConsole())
        # MLflow gives its loggers their own handler and level at import (system-metrics start/stop
        # lines per run); it reads this variable for that level.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        # Against an MLflow server every run's end prints "View run ... at: URL" and "View
        # experiment at: URL" to stdout (dozens per sweep); the demo prints the one link that matters.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # Optuna warns on every sweep that an argument the sweep passes on purpose is experimental.
        warnings.filterwarnings("ignore", message=r".*is an experimental feature", module=r"optuna\.")
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm reads TQDM_<param> as its defaults


@contextmanager
def progress(items: Sequence[T], desc: str, unit: str = "day") -> Iterator[Iterator[T]]:
    """A bar over ``items`` on a terminal (log lines print above it), plain iteration otherwise."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(), tqdm(items, desc=desc, unit=unit, disable=None) as bar:
        yield iter(bar)
