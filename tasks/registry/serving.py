"""What the registered model does at serving time: scores, the alert flag and plain-words reasons.

The pyfunc wrapper and the in-memory path (``score_with_reasons``) share this code, so a model
loaded from the registry scores exactly like the detector it was built from. It depends only on
``models`` and pandas/numpy/mlflow because it is bundled inside the logged model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from models.base import BaseDetector

OUTPUT_COLUMNS = ("anomaly_score", "is_anomaly", "top_features", "reasons")
TOP_K_REASONS = 3
# A feature is named only when it raised the score by at least this share of the row's largest
# raise: the rest of the top k moved the score by too little to explain it.
MIN_CONTRIBUTION_SHARE = 0.1
NO_SINGLE_REASON = "no single feature stands out: many small deviations together"


def _format_value(value: float) -> str:
    if not math.isfinite(value):
        return "missing"
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.3g}"


def _reason(name: str, value: float, usual: float) -> str:
    """``"payment_shared_users 4, above the usual 0"``: the value, its usual value and the direction."""
    if not math.isfinite(value):
        return f"{name} missing (usual {_format_value(usual)})"
    direction = "above" if value > usual else "below"
    return f"{name} {_format_value(value)}, {direction} the usual {_format_value(usual)}"


def explained_rows(names: np.ndarray, contributions: np.ndarray, values: pd.DataFrame,
                   usual: dict[str, float]) -> tuple[list[str], list[str]]:
    """Per row: the features that actually raised the score (``;``-joined) and their reasons.

    A feature is kept when its contribution is positive, at least ``MIN_CONTRIBUTION_SHARE`` of
    the row's largest, and its value differs from the usual one (at the usual value it cannot
    be what moved the score, whatever a detector's attribution says).
    """
    top_features, reasons = [], []
    for r in range(len(names)):
        largest = contributions[r].max(initial=0.0)
        kept = [name for name, contribution in zip(names[r], contributions[r], strict=True)
                if contribution > 0 and contribution >= MIN_CONTRIBUTION_SHARE * largest
                and values.at[r, name] != usual[name]]
        top_features.append(";".join(kept))
        reasons.append("; ".join(_reason(name, values.at[r, name], usual[name]) for name in kept) or NO_SINGLE_REASON)
    return top_features, reasons


def _feature_frame(detector: BaseDetector, features: pd.DataFrame) -> pd.DataFrame:
    names = list(detector.feature_names_in_)
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise ValueError(f"input lacks {len(missing)} model feature(s): {', '.join(missing[:5])}")
    return features[names]


def score_with_reasons(detector: BaseDetector, features: pd.DataFrame, top_k: int = TOP_K_REASONS) -> pd.DataFrame:
    """Score ``features`` (extra columns ignored) into the served-model output, same rows and order.

    Explanations are computed for alerted rows only: occlusion costs one extra scoring pass per
    feature, and on-call reads reasons for alerts; rows under the threshold get empty strings.
    """
    X = _feature_frame(detector, features)
    scores = detector.decision_function(X)
    flagged = scores > detector.threshold_
    top_features = np.full(len(X), "", dtype=object)
    reasons = np.full(len(X), "", dtype=object)
    if flagged.any():
        explained = detector.explain(X[flagged], top_k=top_k)
        usual = dict(zip(detector.feature_names_in_, detector.center_, strict=True))
        k = sum(1 for c in explained.columns if c.startswith("feature_"))
        top_features[flagged], reasons[flagged] = explained_rows(
            explained[[f"feature_{i + 1}" for i in range(k)]].to_numpy(),
            explained[[f"contribution_{i + 1}" for i in range(k)]].to_numpy(dtype=np.float64),
            X[flagged].reset_index(drop=True), usual)
    return pd.DataFrame({
        "anomaly_score": scores.astype(np.float64),
        "is_anomaly": flagged,
        "top_features": top_features.astype(str),
        "reasons": reasons.astype(str),
    }, index=features.index)


class ShopguardDetectorModel(PythonModel):
    """MLflow pyfunc: a saved detector directory (artifact ``detector``) behind ``predict``."""

    def load_context(self, context: Any) -> None:
        self.detector = BaseDetector.load(context.artifacts["detector"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return score_with_reasons(self.detector, model_input)
