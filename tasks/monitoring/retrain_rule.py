"""When a day's drift starts a retrain, and the cooldown that keeps retrains rare.

The rule (quoted in the README):

    A day triggers a drift retrain when EITHER
      1. feature drift: more than ``drift_share_threshold`` (45%) of the model's features drifted
         (PSI over the reference's deciles >= ``column_drift_threshold``, 0.1) against the
         champion's training reference; OR
      2. alert rate: the share of flagged users is outside [median / band, median * band] of the
         ``alert_rate_trailing_days`` trailing days (skipped with fewer than 3 such days);
    AND no drift retrain ran for a day within ``retrain_cooldown_days`` days of it, before or
    after (cooldown; every such day is kept, so backfilling older days never weakens it).
    Score drift (the champion's score distribution against its scores on the reference, PSI >=
    ``score_drift_threshold``) is reported and named as a reason, but does not start a retrain
    on its own: a detector's scores move with ordinary weekly rhythm and with the history
    features maturing after training, so alone it cried wolf on ordinary days.
    The promotion gate still decides whether the retrained model serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tasks.layout import DataLayout
from tasks.locks import file_lock
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


def decide_retrain(summary: DriftSummary, day: date, retrain_days: Iterable[date],
                   monitoring: MonitoringSettings) -> RetrainDecision:
    """Apply the rule in this module's docstring. Pure: the cooldown state (every day a drift
    retrain succeeded for) is passed in, so the nearest one counts whatever order days run in."""
    reasons = drift_reasons(summary, monitoring)
    if not reasons:
        return RetrainDecision(retrain=False, reasons=["no drift"])
    days = set(retrain_days)
    if day in days:
        return RetrainDecision(False, [*reasons, f"a drift retrain already ran for {day}"], True, True)
    nearest = min(days, key=lambda d: abs((day - d).days), default=None)
    if nearest is not None:
        gap = abs((day - nearest).days)
        if gap < monitoring.retrain_cooldown_days:
            return RetrainDecision(False, [*reasons, f"cooldown: a drift retrain ran for {nearest} "
                                           f"({gap} d away, cooldown {monitoring.retrain_cooldown_days} d)"], True, True)
    return RetrainDecision(retrain=True, reasons=reasons, drift_detected=True)


def _cooldown_path(layout: DataLayout) -> Path:
    return layout.state / "drift_retrains.json"


def drift_retrain_days(layout: DataLayout) -> list[date]:
    """Every day a drift retrain finished for (the cooldown keeps them all, not just the last)."""
    path = _cooldown_path(layout)
    if not path.exists():
        return []
    return sorted(date.fromisoformat(d) for d in json.loads(path.read_text(encoding="utf-8"))["drift_retrains"])


def record_drift_retrain(layout: DataLayout, day: date) -> None:
    """Add ``day`` once its retrain finished: a crashed retrain is retried when the day reruns."""
    path = _cooldown_path(layout)
    with file_lock(path.with_name(f".{path.name}.lock"), 60, "another day is recording its drift retrain"):
        days = sorted({*drift_retrain_days(layout), day})
        write_text_atomic(path, json.dumps({"drift_retrains": [d.isoformat() for d in days]}))
