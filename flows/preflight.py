"""What a command needs that can be checked in milliseconds, before Prefect or MLflow start.

A missing day or an empty data root should cost the user a second, not a Prefect server start
and two tracebacks. Only the file system is read here (no heavy imports); the flows check the
same things again, properly, when they run.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tasks.errors import DataMissingError, DataRootError
from tasks.layout import DataLayout
from tasks.settings import Settings

log = logging.getLogger(__name__)

# Commands that create their data root; every other one refuses a missing root rather than
# leaving an empty folder with a Prefect database behind.
CREATES_DATA_ROOT = frozenset({"generate", "demo", "ingest"})
DEMO_MARKER = ".shopguard-demo"
# Commands that run no flow against the data root.
NO_DATA_ROOT = frozenset({"benchmark"})


def _has_parquet(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("*.parquet"))


def _require_partition(directory: Path, what: str, day: date, hint: str) -> None:
    if not _has_parquet(directory):
        raise DataMissingError(f"no {what} for {day} ({directory} has no Parquet files); {hint}")


def require_data_root(command: str, root: Path) -> None:
    if command in CREATES_DATA_ROOT | NO_DATA_ROOT:
        return
    if not root.is_dir():
        raise DataRootError(f"data root {root} does not exist: pass --data-dir (or SHOPGUARD_DATA_DIR) "
                             "pointing at one, or create it with `shopguard generate` / `shopguard ingest`")


def prepare_demo_root(root: Path, fresh: bool) -> None:
    """The demo starts on an empty root or, with ``fresh``, removes an earlier demo's root first.

    An earlier run's records would otherwise show its "retrained / promoted" as today's. Only a
    root holding the demo's marker is ever removed; anything else is refused.
    """
    marker = root / DEMO_MARKER
    if root.is_dir() and any(root.iterdir()):
        if not marker.is_file():
            raise DataRootError(f"data root {root} is not empty and was not made by `shopguard demo` "
                                f"(no {DEMO_MARKER} marker): pass an empty or new --data-dir, or remove it yourself")
        if not fresh:
            raise DataRootError(f"data root {root} holds an earlier demo run; add --fresh to remove it and "
                                "start clean (make demo does), or pass another --data-dir")
        _remove_tree(root)
        log.info("removed the earlier demo run in %s: starting clean", root)
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by `shopguard demo`; `shopguard demo --fresh` may delete this folder\n")


def _remove_tree(root: Path) -> None:
    """Rename first, then delete: a crash midway leaves a hidden sibling, never a half-deleted root."""
    doomed = root.with_name(f".{root.name}.removing-{os.getpid()}")
    root.rename(doomed)
    shutil.rmtree(doomed)


def require_raw_day(layout: DataLayout, day: date) -> None:
    _require_partition(layout.raw_events(day), "raw events", day,
                       "generate or ingest the day first (shopguard generate)")
    if not layout.users.is_file():
        raise DataMissingError(f"users table not found: {layout.users}")


def require_validated_day(layout: DataLayout, day: date) -> None:
    _require_partition(layout.validated(day), "validated events", day,
                       f"run `shopguard validate --date {day}` first")


def require_features_day(layout: DataLayout, day: date) -> None:
    _require_partition(layout.features(day), "features", day, f"run `shopguard features --date {day}` first")


def require_scores_day(layout: DataLayout, day: date) -> None:
    _require_partition(layout.scores(day), "scores", day, f"run `shopguard score --date {day}` first")


# command -> checks on (layout, day); the champion is checked separately (it needs MLflow)
DAY_CHECKS: dict[str, tuple[Callable[[DataLayout, date], None], ...]] = {
    "validate": (require_raw_day,),
    "features": (require_validated_day,),
    "score": (require_features_day,),
    "monitor": (require_features_day, require_scores_day),
    "daily": (require_raw_day,),
}
NEEDS_CHAMPION = frozenset({"score", "monitor", "daily"})


def check_files(command: str, settings: Settings, day: date | None) -> None:
    """Raise a one-line ShopguardError when ``command`` cannot possibly succeed on the data root."""
    root = settings.data_dir
    require_data_root(command, root)
    if day is not None:
        layout = DataLayout(root)
        for check in DAY_CHECKS.get(command, ()):
            check(layout, day)
    if command in NEEDS_CHAMPION:
        require_champion_store(settings)


def require_champion_store(settings: Settings) -> None:
    """The default sqlite store not existing yet means no champion, answered from the file system."""
    default_store = settings.data_dir / "mlflow" / "mlflow.db"
    if settings.mlflow_tracking_uri is None and not default_store.is_file():
        raise DataMissingError(f"no champion model: no MLflow store at {default_store} yet; "
                               "train and promote one first (shopguard train)")


def check_champion(settings: Settings) -> None:
    """No champion, no scoring: ask the registry before the day's flow starts (the flow imports MLflow anyway)."""
    from tasks.scoring.champion import resolve_champion_version

    resolve_champion_version(settings)
