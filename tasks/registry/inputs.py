"""Hand a loaded pyfunc only the columns its signature names (keys and labels stay out)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def signature_inputs(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` narrowed to the model's input columns; unchanged when they are not all present,
    so MLflow's own schema check reports the missing ones."""
    metadata = getattr(model, "metadata", None)
    schema = metadata.get_input_schema() if metadata is not None else None
    if schema is None:
        return frame
    names = schema.input_names()
    return frame[names] if all(n in frame.columns for n in names) else frame
