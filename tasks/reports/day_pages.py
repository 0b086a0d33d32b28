"""A day's two pages beside the on-call page: its alerts (reports/alerts/date=D.html) and the
wrapper around its Evidently drift report (reports/drift/date=D/index.html).

Rendered only from the day's record, the alerts Parquet and the histograms the monitor saved;
Evidently's own report.html is linked and framed, never edited.
"""

from __future__ import annotations

import json

import pandas as pd

from tasks.layout import DataLayout, partition
from tasks.monitoring.drift import HISTOGRAMS_FILE, SCORE_COLUMN
from tasks.monitoring.oncall_page import (
    alerts_page,
    build_day_row,
    moved_features,
    retrain_decision,
)
from tasks.parquet_io import parquet_files, read_partition, write_text_atomic
from tasks.reports.histograms import Histogram
from tasks.reports.render import render
from tasks.run_status import DayRecord

HIST_WIDTH, HIST_HEIGHT = 340, 150


def histogram_svg(h: Histogram) -> dict:
    """Geometry for one paired-bar histogram (reference grey, the day orange) with unit ticks."""
    bins = len(h.reference_share)
    plot_w, plot_h, top = HIST_WIDTH - 10, HIST_HEIGHT - 40, max([*h.reference_share, *h.current_share, 1e-9])
    step = plot_w / bins
    bars = []
    for i, (ref, cur) in enumerate(zip(h.reference_share, h.current_share, strict=True)):
        for j, (share, colour) in enumerate(((ref, "#8c959f"), (cur, "#e36209"))):
            height = plot_h * share / top
            bars.append({"x": round(5 + i * step + j * step / 2, 1), "y": round(18 + plot_h - height, 1),
                         "w": round(max(step / 2 - 0.5, 0.5), 1), "h": round(height, 1), "colour": colour,
                         "title": f"{'reference' if j == 0 else 'this day'}: {share:.1%} in "
                                  f"[{h.edges[i]:.3g}, {h.edges[i + 1]:.3g})"})
    ticks = [{"x": round(5 + i * step, 1), "label": f"{h.edges[i]:.3g}", "anchor": anchor}
             for i, anchor in ((0, "start"), (bins // 2, "middle"), (bins, "end"))]
    title = "anomaly score" if h.column == SCORE_COLUMN else h.column
    return {"title": title, "log_scale": h.log_scale, "bars": bars, "ticks": ticks, "width": HIST_WIDTH,
            "height": HIST_HEIGHT, "axis_y": 18 + plot_h}


def _histograms(layout: DataLayout, record: DayRecord) -> list[dict]:
    path = layout.drift_report(record.date) / HISTOGRAMS_FILE
    if not path.exists():
        return []
    return [histogram_svg(Histogram.model_validate(h)) for h in json.loads(path.read_text(encoding="utf-8"))]


def render_drift_page(layout: DataLayout, record: DayRecord) -> str:
    row = build_day_row(layout, record, tracking_uri="")
    return render("drift.html.j2", record=record, drift=record.drift, row=row, retrain_words=retrain_decision(record), moved=moved_features(record, shown=12),
                  histograms=_histograms(layout, record),
                  alerts_href=f"../../alerts/{partition(record.date)}.html" if alerts_page(layout, record.date).exists() else None)


def read_alerts(layout: DataLayout, day) -> pd.DataFrame | None:
    directory = layout.alerts(day)
    return read_partition(directory) if parquet_files(directory) else None


def render_alerts_page(layout: DataLayout, record: DayRecord, alerts: pd.DataFrame) -> str:
    drifted = record.drift is not None and record.drift.drift_detected
    drift_href = f"../drift/{partition(record.date)}/index.html"
    return render("alerts.html.j2", record=record, scoring=record.scoring, alerts=alerts.to_dict("records"),
                  shifted=drifted, moved=moved_features(record, shown=3, describe=False),
                  drift_href=drift_href if (layout.drift_report(record.date) / "report.html").exists() else None)


def write_day_pages(layout: DataLayout, record: DayRecord) -> None:
    """(Re)render the day's alerts page and drift wrapper from what the stages recorded."""
    alerts = read_alerts(layout, record.date)
    if alerts is not None and record.scoring is not None:
        write_text_atomic(alerts_page(layout, record.date), render_alerts_page(layout, record, alerts))
    if record.drift is not None and (layout.drift_report(record.date) / "report.html").exists():
        write_text_atomic(layout.drift_report(record.date) / "index.html", render_drift_page(layout, record))
