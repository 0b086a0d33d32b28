"""The one row check made beside Great Expectations: control bytes (NUL, ESC, ...) in identifiers.

GX's pandas regex runs on ``column.astype(str)``, a NumPy conversion that silently drops trailing
NUL bytes, so ``"u001\\x00"`` would pass it. pyarrow's vectorised RE2 sees the stored strings.
Failing rows are quarantined like any row expectation, under the label ``control_characters(col)``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CONTROL_BYTES = r"[\x00-\x1f\x7f]"
IDENTIFIER_COLUMNS = ("event_id", "user_id", "session_id", "item_id", "category", "device_id", "ip", "country")


def control_byte_rows(table: pa.Table) -> dict[str, np.ndarray]:
    """Label -> positions of the rows whose identifier holds a control byte."""
    failures: dict[str, np.ndarray] = {}
    for column in IDENTIFIER_COLUMNS:
        hit = pc.match_substring_regex(table.column(column), CONTROL_BYTES).fill_null(False)
        positions = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        if len(positions):
            failures[f"control_characters({column})"] = positions.astype(np.int64)
    return failures
