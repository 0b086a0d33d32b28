"""Load a labelled table for ``shopguard benchmark``: .npz (arrays X, y), .csv or .parquet.

Returns the feature matrix as a numeric DataFrame (column names kept) and 0/1 labels. Anything
unusable ends in a one-line ``BenchmarkDataError`` naming the problem; the file is only read.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.errors import DataMissingError, ShopguardError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".npz", ".csv", ".parquet")
MIN_ANOMALIES = 5  # fewer cannot be split 70/30 and still leave anomalies to measure (ADBench glass has 9)


class BenchmarkDataError(ShopguardError):
    """The benchmark table cannot be used as given."""


def _read_npz(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("X", "y") if k not in npz.files]
            if missing:
                raise BenchmarkDataError(f"{path.name}: .npz lacks array(s) {', '.join(missing)} (needs X and y; has {', '.join(npz.files) or 'none'})")
            X, y = npz["X"], npz["y"]
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise BenchmarkDataError(f"{path.name}: not a readable .npz file ({exc.__class__.__name__})") from None
    if X.ndim != 2:
        raise BenchmarkDataError(f"{path.name}: X must be 2-D, got shape {X.shape}")
    if len(y.ravel()) != len(X):
        raise BenchmarkDataError(f"{path.name}: X has {len(X)} rows but y has {len(y.ravel())}")
    if not np.issubdtype(X.dtype, np.number) and X.dtype != bool:
        raise BenchmarkDataError(f"{path.name}: X must be numeric, got dtype {X.dtype}")
    return pd.DataFrame(X.astype(np.float64), columns=[f"x{i}" for i in range(X.shape[1])]), y.ravel()


def _read_table(path: Path, label_col: str) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # parser errors differ by format and engine; all mean "unreadable"
        raise BenchmarkDataError(f"{path.name}: not a readable {path.suffix} table ({exc.__class__.__name__})") from None
    if label_col not in frame.columns:
        raise BenchmarkDataError(f"{path.name}: no label column {label_col!r} (columns: {', '.join(map(str, frame.columns[:8]))}); pass --label-col")
    features = frame.drop(columns=[label_col])
    non_numeric = [str(c) for c in features.columns if not (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))]
    if non_numeric:
        raise BenchmarkDataError(f"{path.name}: non-numeric feature column(s) {', '.join(non_numeric[:5])}; drop or encode them first")
    return features.astype(np.float64), frame[label_col].to_numpy()


def _binary_labels(y: np.ndarray, name: str) -> np.ndarray:
    if pd.isna(y).any():
        raise BenchmarkDataError(f"{name}: labels contain missing values")
    values = set(pd.unique(y).tolist())
    if not values <= {0, 1}:  # True and False compare equal to 1 and 0
        shown = ", ".join(map(repr, sorted(values, key=str)[:5]))
        raise BenchmarkDataError(f"{name}: labels must be 0/1 (1 = anomaly), found {shown}")
    y = y.astype(int)
    if y.sum() < MIN_ANOMALIES or (len(y) - y.sum()) < MIN_ANOMALIES:
        raise BenchmarkDataError(f"{name}: need at least {MIN_ANOMALIES} anomalies and {MIN_ANOMALIES} normal rows, got {int(y.sum())} and {int(len(y) - y.sum())}")
    return y


def load_labelled_table(path: Path, label_col: str = "y") -> tuple[pd.DataFrame, np.ndarray]:
    """(features, labels) from ``path``; ``label_col`` names the label column of .csv/.parquet."""
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"benchmark data not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BenchmarkDataError(f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    X, y = _read_npz(path) if suffix == ".npz" else _read_table(path, label_col)
    if X.shape[1] == 0:
        raise BenchmarkDataError(f"{path.name}: no feature columns")
    y = _binary_labels(np.asarray(y), path.name)
    log.info("loaded %s: %d rows, %d features, %d anomalies", path.name, len(X), X.shape[1], int(y.sum()))
    return X, y
