"""Reference-vs-current histograms that stay readable for heavy-tailed behaviour features.

Bins are equal-width on a signed log scale (``sign(x) * log1p(|x|)``): a few bots with 100x the
usual events no longer squeeze everyone else into one bar. Pure: Series in, JSON-able dicts out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel

BINS = 24


class Histogram(BaseModel):
    column: str
    edges: list[float]  # in the column's own units, len(bins) + 1
    reference_share: list[float]
    current_share: list[float]
    log_scale: bool


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _signed_exp(y: np.ndarray) -> np.ndarray:
    return np.sign(y) * np.expm1(np.abs(y))


def histogram(column: str, reference: pd.Series, current: pd.Series, bins: int = BINS) -> Histogram:
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    both = np.concatenate([ref, cur])
    if len(both) == 0:
        return Histogram(column=column, edges=[0.0, 1.0], reference_share=[0.0], current_share=[0.0], log_scale=False)
    # a log axis only helps when the tail is long; bounded shares and ratios read better linear
    spread = np.quantile(np.abs(both), 0.99) / max(np.median(np.abs(both)), 1e-9)
    log_scale = bool(spread > 10 or np.abs(both).max() > 100)
    scale = _signed_log if log_scale else (lambda v: v)
    low, high = float(scale(both).min()), float(scale(both).max())
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)

    def shares(values: np.ndarray) -> list[float]:
        counts, _ = np.histogram(scale(values), bins=edges)
        return (counts / max(len(values), 1)).round(5).tolist()

    real_edges = _signed_exp(edges) if log_scale else edges
    return Histogram(column=column, edges=[float(e) for e in real_edges.round(6)], reference_share=shares(ref),
                     current_share=shares(cur), log_scale=log_scale)
