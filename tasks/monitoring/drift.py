"""One Evidently report per day: feature drift, score drift, and a data summary.

The reference is the champion's training sample (``reference/features.parquet``) scored by the
champion itself, so feature drift and score drift are measured against what the model learned
from.

Drift per column is the population stability index over the reference's deciles ("quantile_psi",
registered with Evidently here). Behaviour features and anomaly scores are heavy-tailed: a few
bots with 100x the usual events move a mean-based distance (Wasserstein) or Evidently's
equal-width-bin PSI as much as a shift of everyone, while a decile PSI barely notices 3% of
extreme users and clearly sees the bulk move. PSI >= 0.1 is the usual "moderate shift".
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import DataMissingError
from tasks.parquet_io import staged_directory
from tasks.settings import MonitoringSettings

log = logging.getLogger(__name__)

SCORE_COLUMN = "anomaly_score"
DRIFT_METHOD = "quantile_psi"
PSI_BINS = 10
# The data summary covers the score and one headline feature per behaviour: summarising all ~40
# features costs more than the drift tests themselves and on-call reads only a few.
SUMMARY_FEATURES = ("n_events", "n_views", "n_purchases", "spend_sum", "payment_failure_rate",
                    "n_coupon_applies", "n_reviews", "new_devices", "distinct_ips", "night_share")


def quantile_psi(reference: pd.Series, current: pd.Series, feature_type: Any = None,
                 threshold: float = 0.1) -> tuple[float, bool]:
    """PSI of ``current`` against ``reference``'s deciles (tied edges merged, so counts bin by value).

    Bin shares are smoothed by half a count so an empty bin never makes the index infinite.
    """
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        return 0.0, False
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    k = len(edges) + 1
    ref_share = (np.bincount(np.searchsorted(edges, ref, side="right"), minlength=k) + 0.5) / (len(ref) + 0.5 * k)
    cur_share = (np.bincount(np.searchsorted(edges, cur, side="right"), minlength=k) + 0.5) / (len(cur) + 0.5 * k)
    psi = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    return psi, psi >= threshold


def _register_quantile_psi() -> None:
    """Make ``quantile_psi`` an Evidently stat test by name (idempotent; done before each report)."""
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        _registered_stat_tests,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType

    if DRIFT_METHOD not in _registered_stat_tests:
        register_stattest(StatTest(name=DRIFT_METHOD, display_name="PSI over reference deciles",
                                   allowed_feature_types=[ColumnType.Numerical], default_threshold=0.1),
                          quantile_psi)


@dataclass(frozen=True)
class DriftSummary:
    """What the retrain rule and the on-call page need from a day's monitoring."""

    feature_count: int
    drifted_features: list[str]
    drift_share: float
    score_drift: float  # PSI of the score distribution against the reference's scores
    score_drifted: bool
    alert_rate: float
    trailing_alert_rate: float | None  # median over the trailing days; None without history
    alert_rate_band: tuple[float, float] | None
    drift_scores: dict[str, float] = field(default_factory=dict)

    @property
    def alert_rate_out_of_band(self) -> bool:
        if self.alert_rate_band is None:
            return False
        low, high = self.alert_rate_band
        return not (low <= self.alert_rate <= high)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["alert_rate_out_of_band"] = self.alert_rate_out_of_band
        return record


@dataclass(frozen=True)
class ColumnDrift:
    drifted_features: list[str]
    drift_share: float
    score_drift: float
    score_drifted: bool
    drift_scores: dict[str, float]


def build_drift_report(reference: pd.DataFrame, current: pd.DataFrame, feature_columns: list[str],
                       monitoring: MonitoringSettings) -> Any:
    """Run the Evidently report (current first, as Evidently 0.7 expects) and return its snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    _register_quantile_psi()
    columns = [*feature_columns, SCORE_COLUMN]
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        raise DataMissingError(f"drift reference lacks columns {missing[:5]} (champion trained on another feature schema?)")
    definition = DataDefinition(numerical_columns=columns)
    report = Report([
        DataDriftPreset(columns=list(feature_columns), drift_share=monitoring.drift_share_threshold,
                        num_method=DRIFT_METHOD, num_threshold=monitoring.column_drift_threshold),
        ValueDrift(column=SCORE_COLUMN, method=DRIFT_METHOD, threshold=monitoring.score_drift_threshold),
        DataSummaryPreset(columns=[SCORE_COLUMN, *(c for c in SUMMARY_FEATURES if c in feature_columns)]),
    ], include_tests=True)
    # constant columns (e.g. no coupon use at all) make Evidently's correlations divide by zero
    with np.errstate(divide="ignore", invalid="ignore"):
        return report.run(current_data=Dataset.from_pandas(current[columns], data_definition=definition),
                          reference_data=Dataset.from_pandas(reference[columns], data_definition=definition))


def column_drift_from_snapshot(snapshot: dict[str, Any], feature_columns: list[str]) -> ColumnDrift:
    """Drifted features, drift share and the score-drift test from a snapshot's ``dict()``.

    A column counts as drifted when its ValueDrift test failed (PSI >= threshold).
    """
    scores: dict[str, float] = {}
    for metric in snapshot["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            scores[config["column"]] = float(metric["value"])
    failed: set[str] = set()
    for test in snapshot.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith(":ValueDrift") and test.get("status") == "FAIL":
            failed.add(params["column"])
    drifted = [c for c in feature_columns if c in failed]
    share = len(drifted) / len(feature_columns) if feature_columns else 0.0
    return ColumnDrift(drifted_features=drifted, drift_share=share, score_drift=scores.get(SCORE_COLUMN, 0.0),
                       score_drifted=SCORE_COLUMN in failed, drift_scores=scores)


def save_drift_report(snapshot: Any, directory: Path, summary: DriftSummary) -> Path:
    """reports/drift/date=D/{report.html, report.json, summary.json}, swapped in atomically."""
    with staged_directory(directory) as tmp:
        snapshot.save_html(str(tmp / "report.html"))
        snapshot.save_json(str(tmp / "report.json"))
        (tmp / "summary.json").write_text(json.dumps(summary.to_record(), indent=2), encoding="utf-8")
    return directory
