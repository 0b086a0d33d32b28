"""Suite expectations run by pyarrow keep GX's rule and label: nulls pass, others are refused."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tasks.validation.arrow_rows import arrow_row_failures
from tasks.validation.suites import SuiteSpec, load_suite


def _spec(*expectations) -> SuiteSpec:
    return SuiteSpec("t", "1", tuple(expectations), {})


REGEX = {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "country", "regex": "^[A-Z]{2}$"},
         "meta": {"level": "row", "engine": "pyarrow"}}


def test_failing_rows_are_named_by_position_and_nulls_pass():
    table = pa.table({"country": ["DE", "germany", None, "fr", "FR"]})
    failures = arrow_row_failures(_spec(REGEX), table)
    assert {label: positions.tolist() for label, positions in failures.items()} == \
        {"expect_column_values_to_match_regex(country)": [1, 3]}


def test_an_expectation_pyarrow_cannot_run_is_refused_by_name():
    unknown = {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "country", "value_set": ["DE"]},
               "meta": {"level": "row", "engine": "pyarrow"}}
    with pytest.raises(ValueError, match=r"expect_column_values_to_be_in_set\(country\) has meta.engine pyarrow"):
        arrow_row_failures(_spec(unknown), pa.table({"country": ["DE"]}))


def test_the_raw_events_suite_splits_into_what_gx_and_pyarrow_run_without_losing_any():
    spec = load_suite("raw_events")
    gx, arrow = spec.split_by_engine()
    assert [e["type"] for e in arrow.expectations] == ["expect_column_values_to_match_regex"]
    assert len(gx.expectations) + len(arrow.expectations) == len(spec.expectations)
