"""The vectorised feature-suite verdict never passes a table that Great Expectations would stop.

``certainly_passes`` short-circuits GX only when it says True; each damaged table below must make
it say False (GX then words the failure), and on the good tables it must agree with GX.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tasks.validation.fast_suite import certainly_passes
from tasks.validation.feature_suite import SUITE_NAME, _run_ephemeral, row_count_parameters
from tasks.validation.suites import load_suite

DAY = date(2026, 1, 8)
ROWS = 40


def _table() -> pd.DataFrame:
    from tasks.features.catalogue import all_columns, model_feature_names

    table = pd.DataFrame({"user_id": [f"u{i}" for i in range(ROWS)], "date": [DAY] * ROWS,
                          "segment": "regular", "country": "DE"})
    for name in model_feature_names():
        table[name] = 0.5
    for spec in all_columns():
        if spec.name not in table:
            table[spec.name] = 1.0
    return table[[spec.name for spec in all_columns()]]


def _set(column: str, value):
    def damage(t: pd.DataFrame) -> pd.DataFrame:
        t = t.copy()
        t.loc[3, column] = value
        return t
    return damage


DAMAGED = {  # case -> (damage, the column it touches)
    "nan": (_set("n_events", np.nan), "n_events"),
    "none_in_key": (_set("user_id", None), "user_id"),
    "inf": (_set("gap_mean_s", math.inf), "gap_mean_s"),
    "minus_inf": (_set("burstiness", -math.inf), "burstiness"),
    "above_max": (_set("night_share", 1.0000001), "night_share"),
    "below_min": (_set("burstiness", -1.5), "burstiness"),
    "duplicate_key": (_set("user_id", "u0"), "user_id"),
    "too_few_rows": (lambda t: t.iloc[:30], "n_events"),
    # caught before GX by dtype_problems, so only the fast verdict is asked
    "int_dtype": (lambda t: t.assign(n_views=1), None),
    "missing_column": (lambda t: t.drop(columns=["burstiness"]), None),
    "extra_column": (lambda t: t.assign(extra=1.0), None),
}


def _gx_passes(frame: pd.DataFrame, columns: set[str]) -> bool:
    """GX's verdict over the table-level expectations and those of ``columns`` (GX costs seconds
    per hundred expectations, so each case asks it only about the columns it touches)."""
    spec = load_suite(SUITE_NAME)
    kept = tuple(e for e in spec.expectations if e["kwargs"].get("column", next(iter(columns))) in columns)
    spec = type(spec)(spec.name, spec.version, kept, spec.meta)
    return bool(_run_ephemeral(spec, frame.reset_index(drop=True), row_count_parameters(ROWS)).success)


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_table_is_never_certain_and_gx_stops_it(case):
    damage, column = DAMAGED[case]
    frame = damage(_table()).reset_index(drop=True)
    assert not certainly_passes(load_suite(SUITE_NAME), frame, row_count_parameters(ROWS))
    if column:
        assert not _gx_passes(frame, {column})


def test_good_tables_pass_both_ways_including_values_on_the_bounds():
    edge = _table()
    edge.loc[0, "night_share"], edge.loc[1, "night_share"] = 0.0, 1.0
    edge.loc[2, "burstiness"] = -1.0
    for frame in (_table(), edge):
        assert certainly_passes(load_suite(SUITE_NAME), frame, row_count_parameters(ROWS))
        assert _gx_passes(frame, {"night_share", "burstiness", "n_events", "user_id", "date"})


def test_an_unknown_expectation_or_missing_parameter_is_left_to_gx():
    spec = load_suite(SUITE_NAME)
    assert not certainly_passes(spec, _table(), {})  # min_rows / max_rows not given
    strange = type(spec)(spec.name, spec.version, (*spec.expectations, {
        "type": "expect_column_values_to_match_regex", "kwargs": {"column": "country", "regex": "^[A-Z]{2}$"},
        "meta": {"level": "batch"}}), spec.meta)
    assert not certainly_passes(strange, _table(), row_count_parameters(ROWS))
    mostly = type(spec)(spec.name, spec.version, tuple(
        {**e, "kwargs": {**e["kwargs"], "mostly": 0.5}} if e["type"] == "expect_column_values_to_not_be_null" else e
        for e in spec.expectations), spec.meta)
    assert not certainly_passes(mostly, _table(), row_count_parameters(ROWS))
