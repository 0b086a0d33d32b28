"""`shopguard demo`: the whole life cycle on a synthetic world, with a summary at the end.

Generate 14 days (one of them a promotion day), validate and build features for the first 7,
train and register a champion on them, then run the daily flow for each later day: validate,
features, score, monitor, and retrain when drift says so.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

from prefect import flow

from flows.console import progress
from flows.daily import daily_flow
from flows.features import features_flow
from flows.generate import generate_flow
from flows.train import train_flow
from flows.validate import validate_flow
from tasks.budget_summary import format_budget_rows, read_budget_rows
from tasks.errors import ValidationStopped
from tasks.layout import DataLayout
from tasks.mlflow_links import runs_table_url
from tasks.outcomes import DayOutcome, day_outcome, format_outcomes
from tasks.rules_baseline import rules_baseline_scores
from tasks.settings import Settings
from tasks.tracking import mlflow_client

log = logging.getLogger(__name__)
MLFLOW_UI_URL = "http://127.0.0.1:5000"  # `make mlflow-ui` with its default MLFLOW_PORT

DEMO_DAYS = 14
RULES_ROW = "rules baseline (same budget)"
TRAIN_DAYS = 7
PROMOTION_OFFSET = 10  # the 11th day: well after training, so drift has something to see


@flow(name="shopguard-demo", flow_run_name="demo {start}", log_prints=False)
def demo_flow(settings: Settings, start: date, users: int = 3000, seed: int = 7, trials: int = 6) -> list[dict]:
    days = [start + timedelta(days=i) for i in range(DEMO_DAYS)]
    promotion_day = days[PROMOTION_OFFSET]
    generate_flow(settings=settings, start=start, days=DEMO_DAYS, users=users, seed=seed,
                  promotion_day=promotion_day, anomaly_share=0.02, events_per_day=None)

    with progress(days[:TRAIN_DAYS], desc="training days") as training_days:
        for day in training_days:
            validate_flow(day=day, settings=settings)
            features_flow(day=day, settings=settings)
    train_flow(end=days[TRAIN_DAYS - 1], settings=settings, window_days=TRAIN_DAYS, trials=trials,
               trigger="manual")

    with progress(days[TRAIN_DAYS:], desc="demo days") as later_days:
        for day in later_days:
            try:
                daily_flow(day=day, settings=settings)
            except ValidationStopped as exc:  # the on-call page already says why; keep going
                log.warning("day %s stopped: %s", day, exc)

    layout = DataLayout(settings.data_dir)
    return [day_outcome(layout, day).as_row() for day in days[TRAIN_DAYS:]]


def where_to_look(settings: Settings) -> str:
    layout = DataLayout(settings.data_dir)
    experiment = mlflow_client(settings).get_experiment_by_name(settings.experiment_name)
    runs_table = runs_table_url(MLFLOW_UI_URL, experiment.experiment_id) if experiment else MLFLOW_UI_URL
    return "\n".join([
        "where to look:",
        f"  on-call page   file://{layout.oncall_index}",
        f"  drift reports  {layout.reports / 'drift'}/date=*/index.html (linked from the on-call page)",
        f"  Data Docs      file://{layout.data_docs / 'index.html'}",
        f"  alerts         {layout.reports / 'alerts'}/date=*.html (Parquet and CSV in {layout.root / 'alerts'})",
        f"  MLflow UI      make mlflow-ui, then {runs_table}",
    ])


def run_demo(settings: Settings, start: date, users: int, seed: int, trials: int) -> None:
    """The demo on ``settings.data_dir``, which the CLI has emptied first (an earlier run's records
    would show its retrain as this run's); the summary lists this run's days only."""
    log.info("demo: %d days x %d users in %s, about 3 minutes on 2 cores", DEMO_DAYS, users, settings.data_dir)
    rows = demo_flow(settings=settings, start=start, users=users, seed=seed, trials=trials)
    outcomes = [DayOutcome(**r) for r in rows]
    out = sys.stdout
    out.write(f"\nshopguard demo — each day after training (this run, in {settings.data_dir})\n\n")
    out.write(format_outcomes(outcomes) + "\n\n")
    layout = DataLayout(settings.data_dir)
    scored_days = [o.day for o in outcomes]
    history = [start + timedelta(days=i) for i in range(DEMO_DAYS)]
    rules = rules_baseline_scores(layout, history, scored_days)
    out.write(format_budget_rows(read_budget_rows(layout, scored_days, settings.training.max_alert_rate,
                                                  baselines={RULES_ROW: rules})) + "\n\n")
    out.write(where_to_look(settings) + "\n")
