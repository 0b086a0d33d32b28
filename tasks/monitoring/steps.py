"""Prefect tasks of the monitoring stage: the day's drift report and the on-call page."""

from __future__ import annotations

import statistics
from datetime import date

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tasks.errors import ShopguardError
from tasks.layout import DataLayout
from tasks.monitoring.alert_rate import alert_rate_band, trailing_alert_rates
from tasks.monitoring.drift import (
    HISTOGRAM_COLUMNS,
    SCORE_COLUMN,
    DriftSummary,
    build_drift_report,
    column_drift,
    drift_histograms,
    save_drift_report,
)
from tasks.monitoring.oncall_page import build_day_row, day_markdown, write_oncall_page
from tasks.registry.inputs import signature_inputs
from tasks.reports.day_pages import write_day_pages
from tasks.run_status import read_day_record
from tasks.scoring.champion import Champion
from tasks.settings import Settings


def _model_inputs(champion: Champion) -> list[str]:
    schema = champion.model.metadata.get_input_schema()
    if schema is None:
        raise ShopguardError(f"champion {champion.uri} has no input signature, so its features are unknown")
    return list(schema.input_names())


@task(name="drift-report", cache_policy=NO_CACHE)
def drift_report(day: date, settings: Settings, champion: Champion, reference: pd.DataFrame,
                 features: pd.DataFrame, scores: pd.DataFrame) -> DriftSummary:
    """Evidently report of the day against the champion's reference (scored by the champion); saved."""
    layout = DataLayout(settings.data_dir)
    feature_columns = _model_inputs(champion)
    reference = reference.copy()
    reference[SCORE_COLUMN] = champion.model.predict(signature_inputs(champion.model, reference))["anomaly_score"].to_numpy()
    current = features.merge(scores[["user_id", SCORE_COLUMN, "is_anomaly"]], on="user_id", how="inner")
    snapshot = build_drift_report(reference, current, feature_columns, settings.monitoring)
    columns = column_drift(snapshot.dict(), reference, current, feature_columns, settings.monitoring)
    most_moved = sorted(feature_columns, key=lambda c: -columns.drift_scores[c])[:HISTOGRAM_COLUMNS - 1]
    histograms = drift_histograms(reference, current, [SCORE_COLUMN, *most_moved])
    trailing = trailing_alert_rates(layout, day, settings.monitoring.alert_rate_trailing_days)
    band = alert_rate_band(trailing, settings.monitoring.alert_rate_band)
    summary = DriftSummary(
        feature_count=len(feature_columns), drifted_features=columns.drifted_features,
        drift_share=columns.drift_share, score_drift=columns.score_drift, score_drifted=columns.score_drifted,
        alert_rate=float(scores["is_anomaly"].mean()),
        trailing_alert_rate=statistics.median(trailing) if trailing else None,
        alert_rate_band=band, drift_scores=columns.drift_scores,
    )
    save_drift_report(snapshot, layout.drift_report(day), summary, histograms)
    return summary


@task(name="oncall-page", cache_policy=NO_CACHE)
def publish_oncall(day: date, settings: Settings) -> str:
    """Render the day's alerts and drift pages, rebuild reports/index.html, and attach the day's
    summary to the flow run as markdown."""
    layout = DataLayout(settings.data_dir)
    write_day_pages(layout, read_day_record(layout, day))
    write_oncall_page(layout, settings.tracking_uri)
    row = build_day_row(layout, read_day_record(layout, day), settings.tracking_uri)
    create_markdown_artifact(markdown=day_markdown(row), key=f"oncall-{day.isoformat()}",
                             description=f"shopguard on-call summary for {day}")
    return str(row.status)
