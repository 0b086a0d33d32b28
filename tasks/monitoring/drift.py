"""One Evidently report per day (drifted-column count and a data summary) plus the PSI figures the
pages show.

The reference is the champion's training sample (``reference/features.parquet``) scored by the
champion itself, so feature drift and score drift are measured against what the model learned
from.

Drift per column is the population stability index over the reference's deciles ("quantile_psi",
handed to Evidently as a StatTest object). Behaviour features and anomaly scores are heavy-tailed: a few
bots with 100x the usual events move a mean-based distance (Wasserstein) or Evidently's
equal-width-bin PSI as much as a shift of everyone, while a decile PSI barely notices 3% of
extreme users and clearly sees the bulk move. PSI >= 0.1 is the usual "moderate shift".
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import DataMissingError
from tasks.parquet_io import staged_directory
from tasks.reports.histograms import Histogram, histogram
from tasks.settings import MonitoringSettings

log = logging.getLogger(__name__)

SCORE_COLUMN = "anomaly_score"
DRIFT_METHOD = "quantile_psi"
PSI_BINS = 10
HISTOGRAMS_FILE = "histograms.json"
HISTOGRAM_COLUMNS = 8  # the score and the features that moved most
# Evidently's data summary covers the score and five headline features: each summarised column
# costs about 0.3 s of plotting (the report ran 3.7 s with ten, 2.2 s with five, on 400 users), and
# the wrapper page already draws the columns that moved most, whichever they are.
SUMMARY_FEATURES = ("n_events", "n_purchases", "spend_sum", "payment_failure_rate", "distinct_ips")


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


@cache
def quantile_psi_test() -> Any:
    """``quantile_psi`` as an Evidently StatTest object, passed to metrics as their drift method.

    Evidently resolves a StatTest object's implementation through ``register_stattest`` (its
    public hook for custom tests); registering once per process keeps that idempotent.
    """
    from evidently.legacy.calculations.stattests import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    test = StatTest(name=DRIFT_METHOD, display_name="PSI over reference deciles",
                    allowed_feature_types=[ColumnType.Numerical], default_threshold=0.1)
    register_stattest(test, quantile_psi)
    return test


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
    """Run the Evidently report (current first, as Evidently 0.7 expects) and return its snapshot.

    The drift table (DriftedColumnsCount) and a summary of the score and headline features. Not
    DataDriftPreset: its per-column widgets (value-vs-row-index scatter plots) made each report
    6.7 MB; the wrapper page draws log-scale histograms of the columns that moved instead.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount
    from evidently.presets import DataSummaryPreset

    columns = [*feature_columns, SCORE_COLUMN]
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        raise DataMissingError(f"drift reference lacks columns {missing[:5]} (champion trained on another feature schema?)")
    definition = DataDefinition(numerical_columns=columns)
    report = Report([
        DriftedColumnsCount(columns=list(feature_columns), drift_share=monitoring.drift_share_threshold,
                            num_method=quantile_psi_test(), num_threshold=monitoring.column_drift_threshold),
        DataSummaryPreset(columns=[SCORE_COLUMN, *(c for c in SUMMARY_FEATURES if c in feature_columns)]),
    ], include_tests=True)
    # constant columns (e.g. no coupon use at all) make Evidently's correlations divide by zero
    with np.errstate(divide="ignore", invalid="ignore"):
        return report.run(current_data=Dataset.from_pandas(current[columns], data_definition=definition),
                          reference_data=Dataset.from_pandas(reference[columns], data_definition=definition))


def drifted_columns_share(snapshot: dict[str, Any]) -> tuple[int, float]:
    """(count, share) of drifted columns, as Evidently's DriftedColumnsCount metric found them."""
    for metric in snapshot["metrics"]:
        if metric.get("metric_name", "").startswith("DriftedColumnsCount("):
            return int(metric["value"]["count"]), float(metric["value"]["share"])
    raise ValueError("the drift snapshot has no DriftedColumnsCount metric")


def column_drift(snapshot: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame,
                 feature_columns: list[str], monitoring: MonitoringSettings) -> ColumnDrift:
    """Drifted features (largest PSI first), the drift share and the score's PSI.

    The share is Evidently's; the per-column PSI values are the same ``quantile_psi`` the report
    ran (its metric keeps only the count), so a column is drifted exactly when Evidently said so.
    """
    _, share = drifted_columns_share(snapshot)
    scores = {c: quantile_psi(reference[c], current[c])[0] for c in [*feature_columns, SCORE_COLUMN]}
    drifted = sorted((c for c in feature_columns if scores[c] >= monitoring.column_drift_threshold),
                     key=lambda c: -scores[c])
    score_drift = scores.pop(SCORE_COLUMN)
    return ColumnDrift(drifted_features=drifted, drift_share=share, score_drift=score_drift,
                       score_drifted=score_drift >= monitoring.score_drift_threshold,
                       drift_scores={c: round(v, 4) for c, v in scores.items()})


def drift_histograms(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> list[Histogram]:
    return [histogram(c, reference[c], current[c]) for c in columns]


def save_drift_report(snapshot: Any, directory: Path, summary: DriftSummary, histograms: list[Histogram]) -> Path:
    """reports/drift/date=D/{report.html, report.json, summary.json, histograms.json}, swapped in atomically.

    The wrapper page (index.html) is rendered beside them by the pages stage.
    """
    with staged_directory(directory) as tmp:
        snapshot.save_html(str(tmp / "report.html"))
        snapshot.save_json(str(tmp / "report.json"))
        (tmp / "summary.json").write_text(json.dumps(summary.to_record(), indent=2), encoding="utf-8")
        (tmp / HISTOGRAMS_FILE).write_text(json.dumps([h.model_dump() for h in histograms]), encoding="utf-8")
    return directory
