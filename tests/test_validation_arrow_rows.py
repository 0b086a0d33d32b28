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


def _identifier_table(values: list) -> pa.Table:
    from tasks.validation.identifiers import IDENTIFIER_COLUMNS

    clean = ["ok"] * len(values)
    return pa.table({c: values if c == "user_id" else clean for c in IDENTIFIER_COLUMNS})


@pytest.mark.parametrize(("values", "expected"), [
    (["u1", "u2", None], {}),
    (["u1", "u\x00", "u3\x7f", "u\n4"], {"control_characters(user_id)": [1, 2, 3]}),
    (["u1", "", "x" * 257, "x" * 256], {"identifier_length(user_id)": [1, 2]}),
    (["é" * 200, "u2"], {}),  # 400 bytes but 200 characters: not too long
])
def test_identifier_checks_find_exactly_the_bad_rows(values, expected):
    from tasks.validation.identifiers import identifier_rows

    found = {label: positions.tolist() for label, positions in identifier_rows(_identifier_table(values)).items()}
    assert found == expected


def test_a_slice_of_a_column_with_a_control_byte_elsewhere_is_still_judged_row_by_row():
    from tasks.validation.identifiers import identifier_rows

    table = _identifier_table(["u\x00", "u1", "u2"]).slice(1)  # the NUL stays in the shared data buffer
    assert identifier_rows(table) == {}
    assert list(identifier_rows(_identifier_table(["u1", "u\x00"]).slice(1))) == ["control_characters(user_id)"]
