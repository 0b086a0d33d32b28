"""The on-call page (reports/index.html): one row per day, plain words first, details a click away.

Built only from the typed per-day records (tasks.run_status.DayRecord), so any stage can refresh
it and a rerun rebuilds the same page. Static HTML from a Jinja2 template, no JavaScript; links
are relative to reports/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from tasks.layout import DataLayout, partition
from tasks.mlflow_links import run_url
from tasks.parquet_io import write_text_atomic
from tasks.reports.data_docs_index import SuiteResult, write_data_docs_index
from tasks.reports.render import render
from tasks.run_status import DailyOutcome, DayRecord, days_with_status, read_day_record

MOVED_SHOWN = 8  # moved features listed per day before "and N more"


class DayStatus(StrEnum):
    OK = "OK"
    DRIFT = "drift"
    RETRAIN_DUE = "retrain due"
    RETRAINED = "retrained"
    STOPPED = "validation stopped"
    FAILED = "failed"
    NO_INPUT = "no input"
    TRAINING = "training window"
    NOT_SCORED = "not scored"
    PENDING = "pending"


# badge colour per status; red only where on-call must act
STATUS_COLOUR = {
    DayStatus.OK: "#1a7f37", DayStatus.DRIFT: "#b35900", DayStatus.RETRAIN_DUE: "#b35900",
    DayStatus.RETRAINED: "#0969da", DayStatus.STOPPED: "#cf222e", DayStatus.FAILED: "#cf222e",
    DayStatus.NO_INPUT: "#6e7781", DayStatus.TRAINING: "#6e7781", DayStatus.NOT_SCORED: "#6e7781",
    DayStatus.PENDING: "#6e7781",
}
# days that never make the headline: nothing happened that on-call could act on
QUIET = {DayStatus.NO_INPUT, DayStatus.PENDING}


class DayRow(BaseModel):
    day: date
    status: DayStatus
    sentence: str
    todo: str
    links: dict[str, str] = Field(default_factory=dict)  # label -> href (relative to reports/)
    details: list[str] = Field(default_factory=list)
    alert_rate: float | None = None

    @property
    def colour(self) -> str:
        return STATUS_COLOUR[self.status]


def day_status(record: DayRecord) -> DayStatus:
    failure = record.failure
    if (failure and failure.outcome == DailyOutcome.VALIDATION_STOPPED) or (record.validation and record.validation.stopped):
        return DayStatus.STOPPED
    if failure and failure.outcome == DailyOutcome.NO_INPUT and not record.has_data:
        return DayStatus.NO_INPUT
    if failure:
        return DayStatus.FAILED
    if record.retrain and record.retrain.triggered:
        return DayStatus.RETRAINED
    if record.drift and record.drift.drift_detected:
        return DayStatus.RETRAIN_DUE if record.drift.retrain_recommended else DayStatus.DRIFT
    if record.drift or record.scoring:
        return DayStatus.OK
    if record.training and record.training.versions:
        return DayStatus.TRAINING
    if record.validation or record.features:
        return DayStatus.NOT_SCORED
    return DayStatus.PENDING


def _versions(record: DayRecord) -> str:
    return ", ".join(f"v{v}" for v in record.training.versions) if record.training else ""


def _gate_words(record: DayRecord) -> str:
    retrain = record.retrain
    if retrain.error:
        return f"the retrain failed: {retrain.error}"
    if not retrain.promotion_decision:
        return "the gate's decision is not known yet"
    verb = "promoted" if retrain.promoted else "refused"
    reason = f": {retrain.promotion_reason}" if retrain.promotion_reason else ""
    return f"challenger v{retrain.model_version or '?'} {verb}{reason}"


def retrain_decision(record: DayRecord) -> str:
    """The retrain decision of the day in words (for the drift report page)."""
    drift = record.drift
    if record.retrain and record.retrain.triggered:
        return f"Retrain started; {_gate_words(record)}."
    if drift is None or not drift.drift_detected:
        return "No retrain: no drift."
    if drift.blocked_by_cooldown and drift.reasons:
        return f"No retrain: {drift.reasons[-1]}."
    if drift.retrain_recommended:
        return "Retrain due: the drift automation or the daily flow starts it after monitoring."
    return "No retrain started."


def _shift_words(record: DayRecord) -> str | None:
    """On a drifted day: its alerts are inflated by the shift, with the usual band for scale."""
    drift, scoring = record.drift, record.scoring
    if not (drift and drift.drift_detected and scoring):
        return None
    usual = ""
    if drift.alert_rate_band:
        low, high = drift.alert_rate_band
        usual = f" against a usual {low:.1%}-{high:.1%}"
    return (f"{scoring.alert_rate:.1%} flagged{usual}: today's alerts are inflated by this known shift "
            "in behaviour, not all of them are fraud")


def day_sentence(record: DayRecord, status: DayStatus) -> str:
    """One sentence that says what happened, e.g. "3,000 users scored, 30 flagged (1.0%) by model v1; ..."."""
    failure, validation = record.failure, record.validation
    if status == DayStatus.STOPPED:
        reason = (validation.reason if validation and validation.reason else None) or (failure and failure.reason)
        return f"Validation stopped the day: {reason or 'see Data Docs'}. Nothing was scored."
    if status == DayStatus.NO_INPUT:
        return f"No input for this day ({failure.reason})."
    if status == DayStatus.FAILED:
        return f"The day failed at {failure.stage or 'an unknown step'}: {failure.reason or 'no reason recorded'}."
    parts = []
    if validation and validation.rows_in:
        quarantined = f" ({validation.rows_quarantined:,} quarantined)" if validation.rows_quarantined else ""
        parts.append(f"{validation.rows_in:,} events{quarantined}")
    if status == DayStatus.TRAINING:
        rows = record.features.rows if record.features else None
        parts.append((f"features for {rows:,} users" if rows is not None else "featurised")
                     + f"; training window of {_versions(record)}, so not scored")
    elif status == DayStatus.NOT_SCORED:
        rows = record.features.rows if record.features else None
        parts.append((f"features for {rows:,} users" if rows is not None else "no features yet") + "; not scored")
    if record.scoring:
        s = record.scoring
        parts.append(f"{s.users_scored:,} users scored, {s.alerts:,} flagged ({s.alert_rate:.1%}) by model v{s.model_version}")
    if record.drift:
        drift = record.drift
        moved = len(drift.drifted_features)
        if drift.drift_detected:
            parts.append(f"drift in {moved} of {drift.feature_count} features"
                         + ("; score distribution drifted" if drift.score_drifted else ""))
            parts.append(_shift_words(record) or "")
        else:
            scores = f"; scores moved, PSI {drift.score_drift:.2f}" if drift.score_drifted else ""
            parts.append(f"no drift ({moved} of {drift.feature_count} features moved a little{scores})")
    if status == DayStatus.RETRAINED:
        parts.append(f"retrain started; {_gate_words(record)}")
    elif status == DayStatus.DRIFT:
        blocked = record.drift.reasons[-1] if record.drift.blocked_by_cooldown and record.drift.reasons else None
        parts.append(f"no retrain ({blocked})" if blocked else "no retrain started")
    parts = [p for p in parts if p]
    if not parts:
        return "Not processed yet."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def day_todo(record: DayRecord, status: DayStatus) -> str:
    """What on-call should do about the day, in words."""
    day = record.date.isoformat()
    if status == DayStatus.RETRAINED:
        retrain = record.retrain
        if retrain.error:
            return f"The retrain failed; fix the cause and rerun `shopguard train --end {day}`. Meanwhile triage only the top alerts."
        if retrain.promoted:
            return (f"Nothing to fix: v{retrain.model_version} learned the shift and serves from the next day. "
                    "Today's alerts came from the previous model: triage the top ones only.")
        return ("The gate kept the current model; today's alerts are inflated by the shift, so triage the top ones "
                "and watch the next day's alert rate.")
    return {
        DayStatus.OK: "Nothing to do.",
        DayStatus.DRIFT: "Read the drift report; alerts may be inflated by the shift. The retrain rule held back "
                         "(see why); start one with `shopguard train` if the shift is real and lasting.",
        DayStatus.RETRAIN_DUE: ("Drift calls for a retrain: the drift automation (on a Prefect server) or the "
                                "daily flow starts it right after monitoring, and it records itself here when done "
                                f"(without a server, after `shopguard monitor` alone, run `shopguard daily --date {day}`)."),
        DayStatus.STOPPED: "Raw data failed validation; open Data Docs, fix the feed, rerun the day.",
        DayStatus.FAILED: f"A step failed; read the reason, fix it, rerun `shopguard daily --date {day}`.",
        DayStatus.NO_INPUT: "Nothing to do unless a feed was expected for this day.",
        DayStatus.TRAINING: "Nothing to do: these days taught the model.",
        DayStatus.NOT_SCORED: f"Validated and featurised only; run `shopguard daily --date {day}` to score it.",
        DayStatus.PENDING: "The day has not finished yet.",
    }[status]


def _feature_description(name: str) -> str:
    from tasks.features.catalogue import feature_spec

    try:
        return feature_spec(name).description
    except KeyError:
        return ""


def moved_features(record: DayRecord, shown: int = MOVED_SHOWN, describe: bool = True) -> list[str]:
    """"n_views (PSI 0.42) - Item views on the day.", largest PSI first, capped with "and N more"."""
    drift = record.drift
    if drift is None or not drift.drifted_features:
        return []
    ranked = sorted(drift.drifted_features, key=lambda c: -drift.drift_scores.get(c, 0.0))
    lines = []
    for name in ranked[:shown]:
        score = drift.drift_scores.get(name)
        description = _feature_description(name) if describe else ""
        lines.append(name + (f" (PSI {score:.2f})" if score is not None else "") + (f" - {description}" if description else ""))
    if len(ranked) > shown:
        lines.append(f"and {len(ranked) - shown} more")
    return lines


def day_details(record: DayRecord) -> list[str]:
    """The second layer: rule reasons, the moved features with their meaning, the models involved."""
    drift, scoring, retrain = record.drift, record.scoring, record.retrain
    details = []
    if drift:
        details += [f"Rule: {r}" for r in drift.reasons if drift.drift_detected]
        if drift.alert_rate_band and drift.alert_rate is not None:
            low, high = drift.alert_rate_band
            details.append(f"Alert rate {drift.alert_rate:.2%}; usual band {low:.2%}-{high:.2%}")
        moved = moved_features(record)
        if moved:
            details.append("Features that moved, largest PSI first (PSI >= 0.10 counts as moved):")
            details += [f"  {m}" for m in moved]
    if scoring:
        details.append(f"Scored by {scoring.model_uri or 'model v' + scoring.model_version}, run {scoring.run_id or '?'}")
    if retrain and retrain.triggered:
        details.append(f"Retrain ({retrain.mode or '?'}): flow run {retrain.flow_run_id or '-'}, "
                       f"MLflow run {retrain.run_id or '-'}")
    return details


def day_links(layout: DataLayout, record: DayRecord, tracking_uri: str,
              suite_pages: Sequence[SuiteResult] = ()) -> dict[str, str]:
    day, part = record.date, partition(record.date)
    links: dict[str, str] = {}
    if (layout.drift_report(day) / "index.html").exists():
        links["drift report"] = f"drift/{part}/index.html"
    if alerts_page(layout, day).exists():
        links["alerts"] = alerts_page(layout, day).relative_to(layout.reports).as_posix()
    if (layout.alerts(day) / "alerts.csv").exists():
        links["alerts.csv"] = f"../alerts/{part}/alerts.csv"
    for result in suite_pages:
        links[f"Data Docs: {result.suite}" + ("" if result.success is not False else " (failed)")] = result.href
    scoring, retrain = record.scoring, record.retrain
    serving_run = scoring and run_url(tracking_uri, scoring.experiment_id, scoring.run_id)
    if serving_run:
        links["MLflow: serving model's run"] = serving_run
    retrain_run = retrain and run_url(
        tracking_uri, retrain.experiment_id or (scoring.experiment_id if scoring else None), retrain.run_id)
    if retrain_run:
        links["MLflow: retrain run"] = retrain_run
    return links


def alerts_page(layout: DataLayout, day: date) -> Path:
    return layout.reports / "alerts" / f"{partition(day)}.html"


def build_day_row(layout: DataLayout, record: DayRecord, tracking_uri: str,
                  suite_pages: Sequence[SuiteResult] = ()) -> DayRow:
    status = day_status(record)
    return DayRow(day=record.date, status=status, sentence=day_sentence(record, status), todo=day_todo(record, status),
                  links=day_links(layout, record, tracking_uri, suite_pages), details=day_details(record),
                  alert_rate=record.scoring.alert_rate if record.scoring else None)


def headline_row(rows: list[DayRow]) -> DayRow | None:
    """The newest day on-call could act on: a command run on a day without input is not news."""
    return next((r for r in sorted(rows, key=lambda r: r.day, reverse=True) if r.status not in QUIET), None)


def alert_rate_chart(rows: list[DayRow], width: int = 720, height: int = 120) -> dict | None:
    """Bar geometry of the alert rate per day, with a date under the first, last and every k-th bar."""
    rated = [r for r in sorted(rows, key=lambda r: r.day) if r.alert_rate is not None]
    if not rated:
        return None
    top = max(r.alert_rate for r in rated) or 1.0
    plot_height = height - 34  # room for the title above and the dates below
    bar = min(width / len(rated), 40.0)
    every = max(1, round(len(rated) / 8))
    bars = []
    for i, r in enumerate(rated):
        h = max(1.0, plot_height * r.alert_rate / top)
        labelled = i % every == 0 or i == len(rated) - 1
        bars.append({"x": round(i * bar + 1, 1), "y": round(14 + plot_height - h, 1), "w": round(max(bar - 2, 1), 1),
                     "h": round(h, 1), "colour": r.colour, "day": r.day.isoformat(), "rate": r.alert_rate,
                     "status": str(r.status), "label": r.day.strftime("%m-%d") if labelled else None,
                     "label_x": round(i * bar + bar / 2, 1)})
    return {"width": width, "height": height, "top": top, "bars": bars, "axis_y": 14 + plot_height,
            "first": rated[0].day.isoformat(), "last": rated[-1].day.isoformat()}


def render_oncall_html(rows: list[DayRow], tracking_uri: str) -> str:
    return render("oncall.html.j2", rows=sorted(rows, key=lambda r: r.day, reverse=True),
                  headline=headline_row(rows), chart=alert_rate_chart(rows), tracking_uri=tracking_uri,
                  mlflow_is_server=tracking_uri.startswith("http"), colours=STATUS_COLOUR)


def day_markdown(row: DayRow) -> str:
    """The same summary for a Prefect markdown artifact."""
    lines = [f"# shopguard {row.day}: {row.status}", "", row.sentence, "", row.todo]
    if row.details:
        lines += ["", *[f"- {d.strip()}" for d in row.details]]
    if row.links:
        lines += ["", "Files (relative to reports/): " + ", ".join(f"{k}: `{v}`" for k, v in row.links.items())]
    return "\n".join(lines)


def write_oncall_page(layout: DataLayout, tracking_uri: str) -> list[DayRow]:
    """Rebuild reports/index.html (and the offline Data Docs index) from every day's record."""
    suite_pages: dict[date, list[SuiteResult]] = {}
    for result in write_data_docs_index(layout):
        suite_pages.setdefault(result.day, []).append(result)
    rows = [build_day_row(layout, read_day_record(layout, day), tracking_uri, suite_pages.get(day, []))
            for day in days_with_status(layout)]
    write_text_atomic(layout.oncall_index, render_oncall_html(rows, tracking_uri))
    return rows
