"""Let a data root move: rewrite the embedded MLflow store's absolute artifact paths on open.

MLflow records where artifacts live as absolute URIs (the experiment's artifact location, each
run's artifact URI, each model version's source and storage location, each logged model's
location). Copy or move a data root and every one still names the old place, so the champion
cannot be loaded. The embedded sqlite store (``<data root>/mlflow/mlflow.db``) always keeps its
artifacts in ``<data root>/mlflow/artifacts``; when it finds another root there, the prefix is
rewritten in one transaction. A remote tracking server owns its paths: never touched.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)

ARTIFACTS_SUFFIX = "/mlflow/artifacts"
# (table, column) pairs holding artifact locations in MLflow 3's sqlite schema
PATH_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("model_versions", "source"),
                ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


def _old_roots(db: sqlite3.Connection, artifact_root: Path) -> list[str]:
    """Artifact roots of this store's experiments that are not ``artifact_root`` (file URIs or paths)."""
    current = {artifact_root.as_uri(), str(artifact_root)}
    found = [row[0] for row in db.execute("SELECT DISTINCT artifact_location FROM experiments")]
    return [loc for loc in found if loc and loc.endswith(ARTIFACTS_SUFFIX) and loc not in current
            and loc.startswith(("file:///", "/"))]


def rebase_artifact_paths(store: Path, artifact_root: Path) -> int:
    """Point every artifact path of ``store`` from a former root at ``artifact_root``; returns rows changed."""
    changed = 0
    with closing(sqlite3.connect(store, timeout=60)) as db:
        old_roots = _old_roots(db, artifact_root)
        if not old_roots:
            return 0
        columns = {(t, c) for t, c in PATH_COLUMNS
                   if any(row[1] == c for row in db.execute(f"PRAGMA table_info({t})"))}  # noqa: S608
        with db:  # one transaction: all paths move, or none
            # the same root may be written as a file URI or a plain path: rewrite both spellings
            pairs = {}
            for old in old_roots:
                old_path = old.removeprefix("file://")
                pairs[Path(old_path).as_uri()] = artifact_root.as_uri()
                pairs[old_path] = str(artifact_root)
            for old, new in pairs.items():
                for table, column in sorted(columns):
                    changed += db.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (new, len(old) + 1, old, len(old) + 1, old + "/")).rowcount
    log.warning("MLflow store %s was moved: %d artifact path(s) rewritten from %s to %s", store, changed,
                ", ".join(old_roots), artifact_root)
    return changed
