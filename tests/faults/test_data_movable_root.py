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
