"""Arrow tables -> the pandas frame Great Expectations validates, with one fixed type mapping.

Strings stay Arrow-backed (no per-row Python objects, so 1M rows convert in milliseconds),
timestamps keep their Parquet unit and zone (a naive or non-UTC column stays visibly wrong),
and integers become pandas' nullable integers (a null quantity does not turn the column into
floats). The suites' ``expect_column_type_to_be`` values are written in these dtype names.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(),
}


def _pandas_type(arrow_type: pa.DataType):
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_date(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return _NULLABLE_INTS.get(arrow_type)  # None: pyarrow's default conversion


def to_validation_frame(table: pa.Table) -> pd.DataFrame:
    """The table as the frame GX sees, on a fresh RangeIndex (GX reports failing rows by index).

    Schema metadata is dropped first: pandas metadata left by a writer would otherwise restore
    the writer's dtypes (a naive column would come back as UTC) and hide the file's real types.
    """
    frame = table.replace_schema_metadata(None).to_pandas(types_mapper=_pandas_type)
    frame.index = pd.RangeIndex(len(frame))
    return frame


def frame_dtype_names(schema: pa.Schema) -> dict[str, str]:
    """Column -> the dtype name its data would have in the validation frame."""
    empty = to_validation_frame(schema.empty_table())
    return {column: str(dtype) for column, dtype in empty.dtypes.items()}


def to_row_check_frame(table: pa.Table) -> pd.DataFrame:
    """The frame for a run whose type expectations were already checked on the file schemas
    (tasks/validation/schema.py): integers become float64 (NaN for null; exact below 2**53).

    GX's between kernel is vectorised only for NumPy int64/float64 columns and calls Python per
    value for nullable integers (2.6 s of a 2M-event day for the quantity range alone). Chunks are
    combined: GX copies the filtered rows for every conditional metric, and a take across Parquet's
    row-group chunks costs about 3x one over a contiguous array.
    """
    schema = pa.schema([f.with_type(pa.float64()) if pa.types.is_integer(f.type) else f for f in table.schema])
    return to_validation_frame(table.cast(schema).combine_chunks())
