"""Code-level tests of the validation helpers (no Great Expectations run; milliseconds each)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tasks.validation.frames import frame_dtype_names, to_validation_frame
from tasks.validation.outcome import SuiteOutcome, describe_failure, reason_counts, row_reasons
from tasks.validation.suites import expectation_label, load_suite, suite_from_dict
from tasks.validation.volume import volume_band


def test_volume_band_is_a_ratio_band_around_the_trailing_median():
    assert volume_band([], 0.2, 5.0) is None
    band = volume_band([100, 300, 200], 0.2, 5.0)
    assert (band.median, band.min_rows, band.max_rows, band.days) == (200.0, 40, 1000, 3)


def test_row_reasons_join_every_failed_expectation_in_suite_order():
    outcome = SuiteOutcome(row_failures={"a(x)": np.array([1, 3]), "b(y)": np.array([3])})
    reasons = row_reasons(outcome, 5)
    assert reasons.tolist() == ["", "a(x)", "", "a(x); b(y)", ""]
    assert reason_counts(reasons) == {"a(x)": 2, "b(y)": 1}


def test_labels_name_the_expectation_column_and_condition():
    spec = load_suite("raw_events")
    labels = {expectation_label(e) for e in spec.expectations}
    assert "expect_column_values_to_be_between(quantity if price is set)" in labels
    assert "expect_table_columns_to_match_set" in labels
    assert len(labels) == len(spec.expectations), "two expectations would share a quarantine reason"


@pytest.mark.parametrize(
    ("kwargs", "result", "expected"),
    [
        ({"min_value": 40, "max_value": 1000}, {"observed_value": 2000}, "observed 2000, expected 40..1000"),
        ({"min_value": 0.99}, {"observed_value": 0.9712}, "observed 0.9712, expected >= 0.99"),
        ({"type_": "float64"}, {"observed_value": "object"}, "observed object, expected float64"),
        ({"column_set": ["a", "b"]}, {"observed_value": ["a", "c"]}, "missing b; extra c"),
        ({}, {"unexpected_count": 2, "element_count": 9, "partial_unexpected_list": ["u1", "u1"]},
         "2 of 9 values fail (e.g. u1, u1)"),
    ],
)
def test_batch_failures_are_described_with_their_numbers(kwargs, result, expected):
    assert describe_failure(kwargs, result) == expected


def test_a_suite_without_version_or_levels_is_refused():
    with pytest.raises(ValueError, match="meta.version"):
        suite_from_dict({"name": "x", "meta": {}, "expectations": []})
    with pytest.raises(ValueError, match="meta.level"):
        suite_from_dict({"name": "x", "meta": {"version": "1"},
                         "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]})


def test_the_validation_frame_keeps_zones_units_and_nullable_ints():
    schema = pa.schema([("naive", pa.timestamp("us")), ("berlin", pa.timestamp("ns", tz="Europe/Berlin")),
                        ("q", pa.int32()), ("s", pa.string())])
    assert frame_dtype_names(schema) == {"naive": "datetime64[us]", "berlin": "datetime64[ns, Europe/Berlin]",
                                         "q": "Int32", "s": "string[pyarrow]"}
    frame = to_validation_frame(pa.table({"q": pa.array([1, None], pa.int32())}))
    assert str(frame["q"].dtype) == "Int32" and frame.index.tolist() == [0, 1]
