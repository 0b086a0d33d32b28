"""The model card (markdown) logged with every retrain: what was trained, on what, and how well."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from tasks.training.metrics import LABEL_FREE_OBJECTIVE, METRIC_NAMES, kind_recalls
from tasks.training.objective import LABEL_AWARE, TrialResult, model_kind
from tasks.training.window import WindowData


@dataclass(frozen=True)
class CardContext:
    trigger: str
    code_version: str
    feature_schema_version: str
    objective_name: str
    trial_states: dict[str, int]
    promotion: str = "pending (see the promotion_* tags)"
    budget_rate: float = 0.05


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


def kind_section(best: TrialResult, best_by_kind: dict[str, TrialResult], data: WindowData, ctx: CardContext) -> list[str]:
    """Which kind of model serves (label-aware or label-free), and why it won over the other kind."""
    kind = model_kind(best.detector_name)
    learned = (f"it learned from the labels of the fit days ({len(data.labelled_fit)} labelled user-days, "
               f"{int(data.fit_labels.sum())} anomalous)" if kind == LABEL_AWARE and data.labelled_fit is not None
               else "it learned without labels, from the fit days' normal behaviour")
    lines = ["## Model kind", f"**{kind}**: {learned}."]
    others = {k: r for k, r in best_by_kind.items() if k != kind}
    for other_kind, other in others.items():
        lines.append(f"It won on `{ctx.objective_name}` on the held-out days: {best.objective:.4f} against "
                     f"{other.objective:.4f} for the best {other_kind} trial (`{other.detector_name}`).")
    if not others:
        lines.append("No trial of the other kind completed: " + (
            "the fit days had too few labelled anomalies for label-aware models." if not data.has_fit_labels
            else "see the trial runs."))
    return [*lines, ""]


def _budget_rows(metrics: dict[str, float], budget_rate: float) -> list[str]:
    recalls = kind_recalls(metrics)
    if not recalls:
        return []
    return [f"## Recall per anomaly kind at the alert budget ({budget_rate:.1%} of held-out user-days flagged)",
            "| kind | recall |", "|---|---|", *(f"| {kind} | {value:.3f} |" for kind, value in sorted(recalls.items())), ""]


def render_model_card(best: TrialResult, data: WindowData, ctx: CardContext, importance: pd.DataFrame,
                      by_kind: pd.DataFrame | None, best_by_kind: dict[str, TrialResult] | None = None,
                      kind_guess: pd.DataFrame | None = None) -> str:
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
        f"{data.dropped_known_anomalies} known anomalous user-days left out of label-free fits).",
        f"- Held-out days: {', '.join(d.isoformat() for d in w.validation_days) or 'none'} "
        f"({len(data.validation)} user-days; labels: {'yes' if data.has_labels else 'no'}).",
        f"- Sweep objective: `{ctx.objective_name}`; trials: {ctx.trial_states}.",
        f"- Detector: `{best.detector_name}` with {best.params or 'default parameters'}.",
        f"- Threshold: {best.detector.threshold_:.6g}: " + (
            f"the {ctx.budget_rate:.1%} alert budget's cut on the held-out days' scores (label-aware models' "
            "in-sample scores are overconfident)." if best.detector.supervised else
            f"score percentile of the fit days, raised if needed to keep the held-out days within the "
            f"{ctx.budget_rate:.1%} alert budget.") if best.detector else "",
        "- The registered model is the one evaluated here (fitted on the fit days only), so the held-out",
        "  numbers below describe exactly what serves.",
        "",
        *kind_section(best, best_by_kind or {}, data, ctx),
        "## Held-out performance",
        "Measured on the later held-out days only (never fitted on); figures named `val_*` use their labels.",
        "",
        "| metric | value |",
        "|---|---|",
        *_metric_rows(best.metrics),
        "",
        *_budget_rows(best.metrics, ctx.budget_rate),
    ]
    if by_kind is not None and len(by_kind):
        lines += ["## Recall per anomaly kind at the served threshold", *_table(by_kind), ""]
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
