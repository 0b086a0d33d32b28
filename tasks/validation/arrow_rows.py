"""The suite's row expectations marked ``meta.engine: "pyarrow"``, evaluated with pyarrow kernels.

Same rule and label as in Great Expectations, for the expectations whose GX pandas kernel costs
seconds per million rows (the regex converts every value to a Python string first). Like GX's
column-map expectations, nulls are not failures here (their own not-null expectation says so).
Regular expressions are RE2's (search, like GX's ``str.contains``); ``$`` matches only at the end,
which is stricter than Python's on a trailing newline.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.validation.suites import SuiteSpec, expectation_label

_Failing = Callable[[pa.ChunkedArray, dict], pa.ChunkedArray]


def _not_matching(values: pa.ChunkedArray, kwargs: dict) -> pa.ChunkedArray:
    return pc.invert(pc.match_substring_regex(values, kwargs["regex"]))


_KERNELS: dict[str, _Failing] = {"expect_column_values_to_match_regex": _not_matching}


def arrow_row_failures(spec: SuiteSpec, table: pa.Table) -> dict[str, np.ndarray]:
    """Label -> positions of the rows that fail each of ``spec``'s expectations."""
    failures: dict[str, np.ndarray] = {}
    for expectation in spec.expectations:
        kernel = _KERNELS.get(expectation["type"])
        if kernel is None:
            raise ValueError(f"{expectation_label(expectation)} has meta.engine pyarrow, "
                             f"which runs only {sorted(_KERNELS)}")
        kwargs = expectation["kwargs"]
        if "row_condition" in kwargs:
            raise ValueError(f"{expectation_label(expectation)}: meta.engine pyarrow takes no row_condition")
        failing = kernel(table.column(kwargs["column"]), kwargs).fill_null(False)
        positions = np.flatnonzero(failing.to_numpy(zero_copy_only=False))
        if len(positions):
            failures[expectation_label(expectation)] = positions.astype(np.int64)
    return failures
