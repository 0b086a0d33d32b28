"""An exact, vectorised "does every expectation pass?" for the batch-level feature suite.

Great Expectations spends its time per expectation, not per row: the 149 feature expectations
cost tens of seconds even on a small table (metric graph, pydantic). So the suite JSON is first
evaluated here with pandas/NumPy column kernels. The answer is one-sided on purpose: True only
when every expectation certainly passes under GX's semantics (known type, known kwargs, a
stricter reading where GX leaves room, e.g. nulls in a compound key). Anything else returns
False and the caller runs the same suite through GX, whose result words the failure. A table is
therefore never let through that GX would stop (tests/test_validation_fast_suite.py compares
the two verdicts on damaged tables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from tasks.validation.suites import SuiteSpec

_Check = Callable[[pd.DataFrame, Mapping[str, Any]], bool]


def _value(raw: Any, parameters: Mapping[str, Any]) -> Any:
    """A kwarg with its ``{"$PARAMETER": name}`` placeholder resolved (KeyError when not given)."""
    if isinstance(raw, Mapping) and "$PARAMETER" in raw:
        return parameters[raw["$PARAMETER"]]
    return raw


def _columns_match(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    # exact_match=False would accept a superset; demanding equality is the stricter reading.
    return list(frame.columns) == list(dict.fromkeys(frame.columns)) and set(frame.columns) == set(kw["column_set"])


def _row_count(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    low, high = kw.get("min_value"), kw.get("max_value")
    return (low is None or len(frame) >= low) and (high is None or len(frame) <= high)


def _compound_unique(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    key = frame[list(kw["column_list"])]
    # GX skips rows whose key values are missing; passing only without any is the stricter reading.
    return not key.isna().to_numpy().any() and not key.duplicated(keep=False).any()


def _not_null(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    return bool(frame[kw["column"]].notna().all())


def _type_is(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    return str(frame[kw["column"]].dtype) == kw["type_"]


def _between(frame: pd.DataFrame, kw: Mapping[str, Any]) -> bool:
    column = frame[kw["column"]]
    if not (pd.api.types.is_float_dtype(column.dtype) or pd.api.types.is_integer_dtype(column.dtype)) \
            or pd.api.types.is_bool_dtype(column.dtype):
        return False  # strings, dates, timestamps: leave them to GX
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]  # GX's column-map expectations skip nulls
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is None and high is None:
        return False  # GX refuses that configuration
    below = values < low if not kw.get("strict_min") else values <= low
    above = values > high if not kw.get("strict_max") else values >= high
    return not ((low is not None and below.any()) or (high is not None and above.any()))


# type -> (the kwargs it understands, its check). Any other kwarg (mostly, row_condition, ...)
# is not understood here, so such an expectation goes to GX.
_CHECKS: dict[str, tuple[frozenset[str], _Check]] = {
    "expect_table_columns_to_match_set": (frozenset({"column_set", "exact_match"}), _columns_match),
    "expect_table_row_count_to_be_between": (frozenset({"min_value", "max_value"}), _row_count),
    "expect_compound_columns_to_be_unique": (frozenset({"column_list"}), _compound_unique),
    "expect_column_values_to_not_be_null": (frozenset({"column"}), _not_null),
    "expect_column_type_to_be": (frozenset({"column", "type_"}), _type_is),
    "expect_column_values_to_be_between": (frozenset({"column", "min_value", "max_value", "strict_min",
                                                      "strict_max"}), _between),
}
_COLUMN_KWARGS = ("column",)


def certainly_passes(spec: SuiteSpec, frame: pd.DataFrame, parameters: Mapping[str, Any]) -> bool:
    """True only when every expectation of ``spec`` passes on ``frame`` as GX would judge it."""
    for expectation in spec.expectations:
        known = _CHECKS.get(expectation["type"])
        kwargs = expectation.get("kwargs", {})
        if known is None or not set(kwargs) <= known[0]:
            return False
        try:
            resolved = {name: _value(raw, parameters) for name, raw in kwargs.items()}
        except KeyError:  # a parameter the caller did not give: GX reports that
            return False
        columns = [resolved[k] for k in _COLUMN_KWARGS if k in resolved] + list(resolved.get("column_list", []))
        if any(c not in frame.columns for c in columns):
            return False
        if not known[1](frame, resolved):
            return False
    return True
