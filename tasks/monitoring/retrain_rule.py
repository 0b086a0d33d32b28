"""When a day's drift starts a retrain, and the cooldown that keeps retrains rare.

The rule (quoted in the README):

    A day triggers a drift retrain when EITHER
      1. feature drift: more than ``drift_share_threshold`` (45%) of the model's features drifted
         (PSI over the reference's deciles >= ``column_drift_threshold``, 0.1) against the
         champion's training reference; OR
      2. alert rate: the share of flagged users is outside [median / band, median * band] of the
         ``alert_rate_trailing_days`` trailing days (skipped with fewer than 3 such days);
    AND no drift retrain ran within ``retrain_cooldown_days`` days of it (cooldown).
    Score drift (the champion's score distribution against its scores on the reference, PSI >=
    ``score_drift_threshold``) is reported and named as a reason, but does not start a retrain
    on its own: a detector's scores move with ordinary weekly rhythm and with the history
    features maturing after training, so alone it cried wolf on ordinary days.
    The promotion gate still decides whether the retrained model serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from tasks.layout import DataLayout
from tasks.monitoring.drift import DriftSummary
from tasks.parquet_io import write_text_atomic
from tasks.settings import MonitoringSettings


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reasons: list[str] = field(default_factory=list)  # why drift was flagged, or why nothing happened
    drift_detected: bool = False
    blocked_by_cooldown: bool = False


def drift_reasons(summary: DriftSummary, monitoring: MonitoringSettings) -> list[str]:
    """Plain-words reasons the day counts as drifted (empty: no drift); score drift only confirms."""
    reasons = []
    if summary.feature_count and summary.drift_share > monitoring.drift_share_threshold:
        reasons.append(f"{len(summary.drifted_features)} of {summary.feature_count} features drifted "
                       f"({summary.drift_share:.0%} > {monitoring.drift_share_threshold:.0%})")
    if summary.alert_rate_out_of_band and summary.alert_rate_band is not None:
        low, high = summary.alert_rate_band
        reasons.append(f"alert rate {summary.alert_rate:.2%} outside its usual band {low:.2%}-{high:.2%}")
    if reasons and summary.score_drifted:
        reasons.append(f"score distribution drifted too (PSI {summary.score_drift:.2f} >= "
                       f"{monitoring.score_drift_threshold:.2f})")
    return reasons


def decide_retrain(summary: DriftSummary, day: date, last_drift_retrain: date | None,
                   monitoring: MonitoringSettings) -> RetrainDecision:
    """Apply the rule in this module's docstring. Pure: the cooldown state is passed in."""
    reasons = drift_reasons(summary, monitoring)
    if not reasons:
        return RetrainDecision(retrain=False, reasons=["no drift"])
    if last_drift_retrain is not None:
        if last_drift_retrain == day:
            return RetrainDecision(False, [*reasons, f"a drift retrain already ran for {day}"], True, True)
        gap = abs((day - last_drift_retrain).days)
        if gap < monitoring.retrain_cooldown_days:
            return RetrainDecision(False, [*reasons, f"cooldown: last drift retrain was for {last_drift_retrain} "
                                           f"({gap} d ago, cooldown {monitoring.retrain_cooldown_days} d)"], True, True)
    return RetrainDecision(retrain=True, reasons=reasons, drift_detected=True)


def _cooldown_path(layout: DataLayout):
    return layout.state / "drift_retrain.json"


def last_drift_retrain(layout: DataLayout) -> date | None:
    path = _cooldown_path(layout)
    if not path.exists():
        return None
    return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["last_drift_retrain"])


def record_drift_retrain(layout: DataLayout, day: date) -> None:
    write_text_atomic(_cooldown_path(layout), json.dumps({"last_drift_retrain": day.isoformat()}))
