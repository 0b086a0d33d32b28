"""A data root can be moved: validation and features keep working from the new place and no
longer refer to the old one (MLflow's artifact paths are the registry's concern, not tested here)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pandas as pd
from test_validation_data import DAY, clean_events, write_events, write_users

from tasks.features.flow_tasks import build_features_task
from tasks.layout import DataLayout
from tasks.settings import ValidationSettings
from tasks.validation.day import validate_day

NEXT = DAY + timedelta(days=1)


def test_a_moved_data_root_keeps_working(tmp_path):
    old = DataLayout(tmp_path / "old" / "data")
    write_users(old)
    write_events(old, DAY, clean_events(DAY))
    write_events(old, NEXT, clean_events(NEXT, n=210))
    assert not validate_day(old, DAY, ValidationSettings()).stopped
    before = build_features_task.fn(old, DAY, 1)

    new = DataLayout(tmp_path / "new" / "data")
    new.root.parent.mkdir()
    shutil.move(old.root, new.root)

    assert not validate_day(new, NEXT, ValidationSettings()).stopped
    # DuckDB's parallel sums may differ in the last bits between runs, hence a tolerance
    pd.testing.assert_frame_equal(build_features_task.fn(new, DAY, 1), before, check_exact=False, rtol=1e-9)
    assert len(build_features_task.fn(new, NEXT, 2)) == 20
    gx_config = (new.root / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert str(old.root) not in gx_config and str(new.data_docs) in gx_config
    assert not old.root.exists()


def test_a_moved_data_root_still_serves_its_champion_from_the_embedded_store(tmp_path):
    """MLflow stores absolute artifact paths; the embedded sqlite store rewrites them on open."""
    import sqlite3

    from test_scoring import make_features, make_settings, register_champion, write_features

    from tasks.scoring.champion import load_champion, load_reference_features
    from tasks.scoring.io import read_day_features
    from tasks.scoring.scoring import score_features
    from tasks.store_paths import PATH_COLUMNS

    old = make_settings(tmp_path / "old" / "data")
    reference = pd.concat([make_features(DAY - timedelta(days=d), seed=d) for d in range(1, 3)])
    version = register_champion(old, reference)
    write_features(old, DAY, make_features(DAY, seed=11))
    champion = load_champion(old)
    before = score_features(champion.model, read_day_features(DataLayout(old.data_dir), DAY), champion.version)

    (tmp_path / "new").mkdir()
    new_root = tmp_path / "new" / "data"
    shutil.move(old.data_dir, new_root)
    shutil.rmtree(new_root / "state" / "models", ignore_errors=True)  # no cached copy: load from the artifacts
    new = make_settings(new_root)
    champion = load_champion(new)
    assert champion.version == version
    after = score_features(champion.model, read_day_features(DataLayout(new.data_dir), DAY), champion.version)
    pd.testing.assert_frame_equal(after, before)
    assert len(load_reference_features(new, champion)) == len(reference)
    with sqlite3.connect(new_root / "mlflow" / "mlflow.db") as db:
        for table, column in PATH_COLUMNS:
            if any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})")):
                stale = db.execute(f"SELECT {column} FROM {table} WHERE instr({column}, ?) > 0",
                                   (str(old.data_dir),)).fetchall()
                assert stale == [], (table, column, stale)
    assert not old.data_dir.exists()
