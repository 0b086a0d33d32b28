"""The strongest simple baseline: per-kind rules a risk analyst would write first, on raw events.

Each rule's score is its metric divided by its threshold, so a score of 1 or more means the rule
fires. ``test_generate`` checks each kind is visible to its rule in the easy world;
``test_world_difficulty`` checks the realistic world defeats them at a fixed alert rate; the demo
shows the rules beside the model at the same alert budget.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, read_partition


def user_day_metrics(events: pd.DataFrame, labels: pd.DataFrame | None, users: pd.DataFrame) -> pd.DataFrame:
    """Per user-day behaviour metrics from raw events (with a ``date`` column), joined with the labels if given."""
    e = events.sort_values(["user_id", "ts"])
    e["gap_s"] = e.groupby(["user_id", "date"]).ts.diff().dt.total_seconds()
    counts = pd.crosstab([e.user_id, e.date], e.event_type)
    metrics = e.groupby(["user_id", "date"]).agg(events=("event_id", "size"), median_gap_s=("gap_s", "median"))
    metrics = metrics.join(counts)
    views = e[e.event_type == "view"].groupby(["user_id", "date", "item_id"]).size()
    metrics["max_views_one_item"] = views.groupby(["user_id", "date"]).max()

    home = e.merge(users[["user_id", "country"]], on="user_id", suffixes=("", "_home"))
    device_days = e.groupby(["user_id", "device_id"]).date.nunique().rename("device_days")
    home = home.join(device_days, on=["user_id", "device_id"])
    foreign_new = home[(home.country != home.country_home) & (home.device_days == 1) & (home.event_type == "purchase")]
    metrics["foreign_purchase_new_device"] = foreign_new.groupby(["user_id", "date"]).size()

    bought = e[(e.event_type == "purchase") & (e.price < 5)][["user_id", "date", "item_id"]]
    reviewed = e[e.event_type == "review"][["user_id", "date", "item_id"]]
    brushed = bought.merge(reviewed).drop_duplicates()
    metrics["reviews_of_cheap_purchases"] = brushed.groupby(["user_id", "date"]).size()

    users_per_device = e.groupby(["date", "device_id"]).user_id.nunique().rename("device_users")
    shared = e.join(users_per_device, on=["date", "device_id"]).groupby(["user_id", "date"]).device_users.max()
    metrics["max_users_on_device"] = shared

    metrics.index = metrics.index.set_levels(metrics.index.levels[1], level=1)
    for column in ("payment_failed", "add_to_cart", "coupon_apply"):
        if column not in metrics:
            metrics[column] = 0
    if labels is None:
        return metrics.fillna(0)
    labels = labels.assign(date=pd.to_datetime(labels.date).dt.date).set_index(["user_id", "date"])
    return metrics.fillna(0).join(labels, how="outer")


RULES = {
    "scraper_bot": lambda m: np.minimum(m.events / 300, 2 / m.median_gap_s.clip(lower=1e-3)),
    "card_testing": lambda m: m.payment_failed / 3,
    "account_takeover": lambda m: m.foreign_purchase_new_device / 1,
    "click_fraud": lambda m: m.max_views_one_item / 10 * (m.add_to_cart == 0),
    "fake_reviews": lambda m: m.reviews_of_cheap_purchases / 1,
    "coupon_abuse": lambda m: np.minimum(m.coupon_apply / 3, m.max_users_on_device / 3),
}


def rule_scores(metrics: pd.DataFrame) -> pd.DataFrame:
    """One column per kind: the rule's metric over its threshold (>= 1: the rule fires)."""
    return pd.DataFrame({kind: rule(metrics) for kind, rule in RULES.items()}, index=metrics.index).fillna(0)


def alerts_at_rate(metrics: pd.DataFrame, alert_rate: float) -> pd.Series:
    """The ``alert_rate`` share of user-days the strongest-firing rule ranks highest (ties by row order)."""
    strongest = rule_scores(metrics).max(axis=1).to_numpy()
    budget = int(np.ceil(alert_rate * len(metrics)))
    top = np.argsort(-strongest, kind="stable")[:budget]
    flagged = np.zeros(len(metrics), dtype=bool)
    flagged[top] = strongest[top] > 0
    return pd.Series(flagged, index=metrics.index)


def rules_baseline_scores(layout: DataLayout, history: list[date], scored: list[date]) -> pd.DataFrame:
    """(user_id, date, anomaly_score) of the strongest-firing rule for the ``scored`` days, from the
    validated events of ``history`` (which must include them: "new device" needs the earlier days)."""
    events = pd.concat([read_partition(layout.validated(day)).assign(date=day) for day in history
                        if parquet_files(layout.validated(day))], ignore_index=True)
    metrics = user_day_metrics(events, None, pd.read_parquet(layout.users))
    strongest = rule_scores(metrics).max(axis=1).rename("anomaly_score").reset_index()
    return strongest[strongest["date"].isin(set(scored))].reset_index(drop=True)
