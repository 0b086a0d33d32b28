"""Reading a GX validation result: which batch checks failed (one line each) and which rows failed.

Row positions come from GX's COMPLETE result format (``unexpected_index_list`` holds the frame's
RangeIndex positions; event ids are no use as keys when they are null or duplicated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

REASON_SEPARATOR = "; "


@dataclass(frozen=True)
class BatchFailure:
    label: str  # the expectation, e.g. expect_table_row_count_to_be_between
    detail: str  # the numbers that decided it

    def __str__(self) -> str:
        return f"{self.label}: {self.detail}"


@dataclass(frozen=True)
class SuiteOutcome:
    batch_failures: list[BatchFailure] = field(default_factory=list)
    row_failures: dict[str, np.ndarray] = field(default_factory=dict)  # label -> failing row positions

    @property
    def failed_expectations(self) -> list[str]:
        return [f.label for f in self.batch_failures] + list(self.row_failures)


def read_outcome(result: Any, frame: pd.DataFrame) -> SuiteOutcome:
    """Split a suite result into batch-level failure lines and row-level failing positions."""
    batch_failures: list[BatchFailure] = []
    row_failures: dict[str, np.ndarray] = {}
    for item in result.results:
        config = item.expectation_config
        label = config.meta.get("label", config.type)
        exception = item.exception_info or {}
        if exception.get("raised_exception"):
            message = str(exception.get("exception_message") or "error").strip().splitlines()[0]
            batch_failures.append(BatchFailure(label, f"could not be evaluated ({message})"))
            continue
        if item.success:
            continue
        if config.meta.get("level") == "row":
            positions = np.asarray(item.result.get("unexpected_index_list") or [], dtype=np.int64)
            if config.meta.get("keep_first"):
                positions = _later_duplicates(frame[config.kwargs["column"]], positions)
            if len(positions):
                row_failures[label] = positions
        else:
            batch_failures.append(BatchFailure(label, describe_failure(config.kwargs, item.result)))
    return SuiteOutcome(batch_failures, row_failures)


def _later_duplicates(column: pd.Series, positions: np.ndarray) -> np.ndarray:
    """Of the rows flagged as duplicates, those after the first copy of their value."""
    later = column.duplicated(keep="first").to_numpy()
    return positions[later[positions]]


def describe_failure(kwargs: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """``observed X, expected Y`` for a batch expectation, with the numbers that decided it."""
    observed = result.get("observed_value")
    if "column_set" in kwargs and isinstance(observed, list):
        expected = set(kwargs["column_set"])
        missing = sorted(expected - set(observed))
        extra = sorted(set(observed) - expected)
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"extra {', '.join(extra)}"] if extra else [])
        return "; ".join(parts) or f"columns {observed}"
    if "type_" in kwargs:
        return f"observed {describe_dtype(str(observed))}, expected {kwargs['type_']}"
    if "type_list" in kwargs:
        return f"observed {observed}, expected one of {', '.join(kwargs['type_list'])}"
    if "unexpected_count" in result:
        examples = ", ".join(map(str, (result.get("partial_unexpected_list") or [])[:3]))
        return f"{result['unexpected_count']} of {result.get('element_count')} values fail (e.g. {examples})"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None or high is not None:
        return f"observed {_number(observed)}, expected {_bounds(low, high)}"
    return f"observed {_number(observed)}"


def describe_dtype(name: str) -> str:
    """A dtype name, plus the hint on-call needs most often (a timestamp without a zone)."""
    if name.startswith("datetime64[") and "," not in name:
        return f"{name} (naive, no time zone)"
    return name


def _bounds(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{_number(low)}..{_number(high)}"
    return f">= {_number(low)}" if low is not None else f"<= {_number(high)}"


def _number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    if isinstance(value, float):
        return str(int(value))
    return str(value)


def row_reasons(outcome: SuiteOutcome, n_rows: int) -> np.ndarray:
    """Per row, the labels of the row expectations it failed ("" for a clean row), suite order."""
    reasons = np.full(n_rows, "", dtype=object)
    for label, positions in outcome.row_failures.items():
        current = reasons[positions]
        reasons[positions] = np.where(current == "", label, current + REASON_SEPARATOR + label)
    return reasons


def reason_counts(reasons: np.ndarray) -> dict[str, int]:
    """How many quarantined rows each expectation caught (a row may count under several)."""
    counts: dict[str, int] = {}
    for combined, n in pd.Series(reasons[reasons != ""]).value_counts().items():
        for label in str(combined).split(REASON_SEPARATOR):
            counts[label] = counts.get(label, 0) + int(n)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
