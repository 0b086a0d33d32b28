"""The on-call page (reports/index.html): one row per day, plain words first, details a click away.

Built only from the per-day status records (reports/runs/date=D.json), so any stage can refresh
it and a rerun rebuilds the same page. Static HTML, no JavaScript; links are relative to reports/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

from tasks.layout import DataLayout
from tasks.parquet_io import write_text_atomic
from tasks.run_status import days_with_status, read_day_status

STATUS_OK = "OK"
STATUS_DRIFT = "drift"
STATUS_RETRAINED = "retrained"
STATUS_STOPPED = "validation stopped"
STATUS_FAILED = "failed"
STATUS_NOT_SCORED = "not scored"
STATUS_PENDING = "pending"

# badge colours and what on-call should do, per status
STATUS_STYLE = {
    STATUS_OK: ("#1a7f37", "Nothing to do."),
    STATUS_DRIFT: ("#b35900", "Read the drift report; a retrain was not started (see why)."),
    STATUS_RETRAINED: ("#0969da", "Drift started a retrain; check the gate's decision and the new alerts."),
    STATUS_STOPPED: ("#cf222e", "Raw data failed validation; open Data Docs, fix the feed, rerun the day."),
    STATUS_FAILED: ("#cf222e", "A step failed; read the reason, fix it, rerun with `shopguard daily`."),
    STATUS_NOT_SCORED: ("#6e7781", "Validated and featurised only (e.g. a training day); run `shopguard daily` to score it."),
    STATUS_PENDING: ("#6e7781", "The day has not finished yet."),
}


@dataclass(frozen=True)
class DayRow:
    day: date
    status: str
    sentence: str
    links: dict[str, str] = field(default_factory=dict)  # label -> href (relative to reports/)
    details: list[str] = field(default_factory=list)
    alert_rate: float | None = None


def day_status(record: dict[str, Any]) -> str:
    daily = record.get("daily") or {}
    validation = record.get("validation") or {}
    if daily.get("outcome") == STATUS_STOPPED or validation.get("stopped"):
        return STATUS_STOPPED
    if daily.get("outcome") == STATUS_FAILED:
        return STATUS_FAILED
    if (record.get("retrain") or {}).get("triggered"):
        return STATUS_RETRAINED
    if (record.get("drift") or {}).get("drift_detected"):
        return STATUS_DRIFT
    if record.get("drift") or record.get("scoring"):
        return STATUS_OK
    if validation or record.get("features"):
        return STATUS_NOT_SCORED
    return STATUS_PENDING


def _mlflow_run_link(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str | None:
    if not run_id or not experiment_id or not tracking_uri.startswith("http"):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _gate_words(retrain: dict[str, Any]) -> str:
    decision = retrain.get("promotion_decision")
    reason = retrain.get("promotion_reason") or ""
    if retrain.get("error"):
        return f"the retrain failed: {retrain['error']}"
    if not decision:
        return "the gate's decision is not known yet"
    verb = "promoted" if decision.lower().startswith("promot") else "refused"
    return f"challenger v{retrain.get('model_version', '?')} {verb}" + (f": {reason}" if reason else "")


def day_sentence(record: dict[str, Any], status: str) -> str:
    """One sentence that says what happened, e.g. "Drift in 12 of 38 features; retrain started; ..."."""
    scoring = record.get("scoring") or {}
    drift = record.get("drift") or {}
    retrain = record.get("retrain") or {}
    daily = record.get("daily") or {}
    validation = record.get("validation") or {}
    if status == STATUS_STOPPED:
        reason = daily.get("reason") or validation.get("reason") or "see Data Docs"
        reason = re.sub(r"^validation stopped \d{4}-\d{2}-\d{2}: ", "", reason)
        return f"Validation stopped the day: {reason}. Nothing was scored."
    if status == STATUS_FAILED:
        return f"The day failed at {daily.get('stage', 'an unknown step')}: {daily.get('reason', 'no reason recorded')}."
    parts = []
    if validation.get("rows_in") is not None:
        quarantined = validation.get("rows_quarantined") or 0
        parts.append(f"{validation['rows_in']:,} events" + (f" ({quarantined:,} quarantined)" if quarantined else ""))
    if status == STATUS_NOT_SCORED:
        rows = (record.get("features") or {}).get("rows")
        parts.append((f"features for {rows:,} users" if rows is not None else "no features yet") + "; not scored")
    if scoring:
        parts.append(f"{scoring.get('users_scored', 0):,} users scored, {scoring.get('alerts', 0):,} flagged "
                     f"({scoring.get('alert_rate', 0):.1%}) by model v{scoring.get('model_version', '?')}")
    if drift:
        drifted, total = len(drift.get("drifted_features") or []), drift.get("feature_count", 0)
        if drift.get("drift_detected"):
            parts.append(f"drift in {drifted} of {total} features" + (
                "; score distribution drifted" if drift.get("score_drifted") else ""))
        else:
            scores_moved = f"; scores shifted, PSI {drift.get('score_drift', 0):.2f}" if drift.get("score_drifted") else ""
            parts.append(f"no drift ({drifted} of {total} features moved{scores_moved})")
    if status == STATUS_RETRAINED:
        parts.append(f"retrain started; {_gate_words(retrain)}")
    elif status == STATUS_DRIFT:
        blocked = [r for r in drift.get("reasons", []) if r.startswith(("cooldown", "a drift retrain already"))]
        parts.append(f"no retrain ({blocked[0]})" if blocked else "no retrain started")
    if not parts:
        return "Not processed yet."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _feature_description(name: str) -> str:
    try:
        from tasks.features.catalogue import feature_spec

        return feature_spec(name).description
    except (ImportError, KeyError):
        return ""


def day_details(record: dict[str, Any]) -> list[str]:
    """The second layer: rule reasons, drifted features with their meaning, the models involved."""
    drift = record.get("drift") or {}
    scoring = record.get("scoring") or {}
    retrain = record.get("retrain") or {}
    details = [f"Rule: {r}" for r in drift.get("reasons", []) if r != "no drift"]
    if drift.get("alert_rate_band"):
        low, high = drift["alert_rate_band"]
        details.append(f"Alert rate {drift.get('alert_rate', 0):.2%}; usual band {low:.2%}-{high:.2%}")
    for name in drift.get("drifted_features") or []:
        score = (drift.get("drift_scores") or {}).get(name)
        description = _feature_description(name)
        details.append(f"Drifted: {name}" + (f" (PSI {score:.2f})" if score is not None else "")
                       + (f" - {description}" if description else ""))
    if scoring.get("model_version"):
        details.append(f"Scored by {scoring.get('model_uri', 'model v' + str(scoring['model_version']))}, "
                       f"run {scoring.get('run_id', '?')}")
    if retrain.get("triggered"):
        details.append(f"Retrain ({retrain.get('mode', '?')}): flow run {retrain.get('flow_run_id') or '-'}, "
                       f"MLflow run {retrain.get('run_id') or '-'}")
    return details


def build_day_row(layout: DataLayout, record: dict[str, Any], tracking_uri: str) -> DayRow:
    day = date.fromisoformat(record["date"])
    status = day_status(record)
    part = f"date={day.isoformat()}"
    links: dict[str, str] = {}
    if (layout.drift_report(day) / "report.html").exists():
        links["drift report"] = f"drift/{part}/report.html"
    day_docs = (record.get("validation") or {}).get("data_docs")
    if day_docs and Path(day_docs).exists() and Path(day_docs).is_relative_to(layout.reports):
        links["Data Docs"] = Path(day_docs).relative_to(layout.reports).as_posix()
    elif (layout.data_docs / "index.html").exists():
        links["Data Docs"] = "data_docs/index.html"
    if (layout.alerts(day) / "alerts.html").exists():
        links["alerts"] = f"../alerts/{part}/alerts.html"
        links["alerts.csv"] = f"../alerts/{part}/alerts.csv"
        links["alerts.parquet"] = f"../alerts/{part}/part-0.parquet"
    scoring = record.get("scoring") or {}
    retrain = record.get("retrain") or {}
    scoring_run = _mlflow_run_link(tracking_uri, scoring.get("experiment_id"), scoring.get("run_id"))
    if scoring_run:
        links["MLflow: serving model's run"] = scoring_run
    retrain_run = _mlflow_run_link(tracking_uri, retrain.get("experiment_id") or scoring.get("experiment_id"),
                                   retrain.get("run_id"))
    if retrain_run:
        links["MLflow: retrain run"] = retrain_run
    return DayRow(day=day, status=status, sentence=day_sentence(record, status), links=links,
                  details=day_details(record), alert_rate=scoring.get("alert_rate"))


def alert_rate_svg(rows: list[DayRow], width: int = 560, height: int = 90) -> str:
    """A tiny inline bar chart of the alert rate per day, bars coloured by status."""
    rated = [r for r in sorted(rows, key=lambda r: r.day) if r.alert_rate is not None]
    if not rated:
        return ""
    top = max(r.alert_rate for r in rated) or 1.0
    bar = min(width / len(rated), 40.0)
    bars = []
    for i, r in enumerate(rated):
        h = max(1.0, (height - 14) * r.alert_rate / top)
        colour = STATUS_STYLE.get(r.status, STATUS_STYLE[STATUS_PENDING])[0]
        bars.append(f'<rect x="{i * bar + 1:.1f}" y="{height - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{r.day}: {r.alert_rate:.2%} flagged ({r.status})</title></rect>')
    return (f'<svg role="img" aria-label="alert rate per day" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><text x="0" y="10" font-size="10" fill="#555">alert rate per day '
            f'(max {top:.2%})</text>{"".join(bars)}</svg>')


def _badge(status: str) -> str:
    colour = STATUS_STYLE.get(status, STATUS_STYLE[STATUS_PENDING])[0]
    return f'<span class="badge" style="background:{colour}">{escape(status)}</span>'


def render_oncall_html(rows: list[DayRow], tracking_uri: str) -> str:
    rows = sorted(rows, key=lambda r: r.day, reverse=True)
    if rows:
        latest = rows[0]
        headline = (f"<p class='headline'>{_badge(latest.status)} <b>{latest.day}</b>: {escape(latest.sentence)}</p>"
                    f"<p class='todo'>{escape(STATUS_STYLE.get(latest.status, ('', ''))[1])}</p>")
    else:
        headline = "<p class='headline'>No days processed yet.</p>"
    body = []
    for r in rows:
        links = " &middot; ".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in r.links.items())
        details = ""
        if r.details:
            items = "".join(f"<li>{escape(d)}</li>" for d in r.details)
            details = f"<details><summary>details</summary><ul>{items}</ul></details>"
        body.append(f"<tr><td class='day'>{r.day}</td><td>{_badge(r.status)}</td>"
                    f"<td>{escape(r.sentence)}{details}</td><td class='links'>{links or '-'}</td></tr>")
    mlflow_hint = (f'<a href="{escape(tracking_uri)}">{escape(tracking_uri)}</a>' if tracking_uri.startswith("http")
                   else f"{escape(tracking_uri)} (open it with <code>make mlflow-ui</code>)")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shopguard on-call</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#1f2328;max-width:75em}}
.badge{{color:#fff;border-radius:1em;padding:2px 10px;font-size:.85em;white-space:nowrap}}
.headline{{font-size:1.2em}} .todo{{color:#555}}
table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #d0d7de;padding:6px 8px;
text-align:left;vertical-align:top}} td.day{{white-space:nowrap;font-variant-numeric:tabular-nums}}
td.links{{font-size:.9em}} details{{margin-top:4px;color:#444;font-size:.9em}}
</style></head>
<body>
<h1>shopguard on-call</h1>
{headline}
{alert_rate_svg(rows)}
<table><thead><tr><th>day</th><th>status</th><th>what happened</th><th>open</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<p class="todo">Statuses: OK (nothing to do), drift (features or scores moved; no retrain), retrained (drift
started a retrain; the promotion gate decided whether it serves), validation stopped (bad raw data; nothing
scored), failed (a step broke; see its reason), not scored (validated and featurised only). MLflow: {mlflow_hint}.</p>
</body></html>
"""


def day_markdown(row: DayRow) -> str:
    """The same summary for a Prefect markdown artifact."""
    lines = [f"# shopguard {row.day}: {row.status}", "", row.sentence, "",
             STATUS_STYLE.get(row.status, ("", ""))[1]]
    if row.details:
        lines += ["", *[f"- {d}" for d in row.details]]
    if row.links:
        lines += ["", "Files (relative to reports/): " + ", ".join(f"{k}: `{v}`" for k, v in row.links.items())]
    return "\n".join(lines)


def write_oncall_page(layout: DataLayout, tracking_uri: str) -> list[DayRow]:
    """Rebuild reports/index.html from every day's status record; returns the rows."""
    rows = [build_day_row(layout, read_day_status(layout, day), tracking_uri) for day in days_with_status(layout)]
    write_text_atomic(layout.oncall_index, render_oncall_html(rows, tracking_uri))
    return rows
