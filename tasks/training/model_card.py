"""The model card (markdown) logged with every retrain: what was trained, on what, and how well."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from tasks.training.metrics import LABEL_FREE_OBJECTIVE, METRIC_NAMES
from tasks.training.objective import TrialResult
from tasks.training.window import WindowData


@dataclass(frozen=True)
class CardContext:
    trigger: str
    code_version: str
    feature_schema_version: str
    objective_name: str
    trial_states: dict[str, int]
    promotion: str = "pending (see the promotion_* tags)"


def _metric_rows(metrics: dict[str, float]) -> list[str]:
    rows = []
    for name in (*METRIC_NAMES, LABEL_FREE_OBJECTIVE):
        value = metrics.get(name)
        if value is not None and math.isfinite(value):
            rows.append(f"| {name} | {value:.4f} |")
    return rows


def _table(frame: pd.DataFrame) -> list[str]:
    header = "| " + " | ".join(frame.columns) + " |"
    lines = [header, "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return lines


def render_model_card(best: TrialResult, data: WindowData, ctx: CardContext, importance: pd.DataFrame,
                      by_kind: pd.DataFrame | None, kind_guess: pd.DataFrame | None = None) -> str:
    w = data.window
    lines = [
        f"# shopguard-detector: {best.detector_name} trained on {w.label}",
        "",
        "## Intended use",
        "Ranks user-days of the shop by how unusual their behaviour is (scrapers, card testing, account",
        "takeover, click fraud, brushing, coupon abuse). Alerts (score above the fitted threshold) go to",
        "on-call for review; the model never blocks a user by itself.",
        "",
        "## Training",
        f"- Trigger: **{ctx.trigger}**; code version `{ctx.code_version}`; feature schema v{ctx.feature_schema_version}.",
        f"- Fit days: {w.fit_days[0]} .. {w.fit_days[-1]} ({len(data.fit)} user-days; "
        f"{data.dropped_known_anomalies} known anomalous user-days left out).",
        f"- Held-out days: {', '.join(d.isoformat() for d in w.validation_days) or 'none'} "
        f"({len(data.validation)} user-days; labels: {'yes' if data.has_labels else 'no'}).",
        f"- Sweep objective: `{ctx.objective_name}`; trials: {ctx.trial_states}.",
        f"- Detector: `{best.detector_name}` with {best.params or 'default parameters'}.",
        f"- Threshold: {best.detector.threshold_:.6g} (score percentile of the fit days)." if best.detector else "",
        "- The registered model is the one evaluated here (fitted on the fit days only), so the held-out",
        "  numbers below describe exactly what serves.",
        "",
        "## Held-out performance",
        "| metric | value |",
        "|---|---|",
        *_metric_rows(best.metrics),
        "",
    ]
    if by_kind is not None and len(by_kind):
        lines += ["## Recall per anomaly kind", *_table(by_kind), ""]
    if kind_guess is not None and len(kind_guess):
        lines += ["## Kind guess on the alerts page, checked against `anomaly_type` labels",
                  "Alerted held-out users of each labelled kind, and how often the alerts page's guess named it.",
                  *_table(kind_guess), ""]
    lines += ["## Top features behind high scores", *_table(importance.head(10)), "",
              "## Promotion", ctx.promotion, "",
              "## Limitations",
              "- Labels arrive late and only cover known fraud kinds; unseen behaviour is judged against the",
              "  fit window's normal and may be missed or over-alerted after shifts (watch the drift report).",
              "- Reasons are occlusion explanations: each feature's effect alone, not interactions.",
              ""]
    return "\n".join(lines)
