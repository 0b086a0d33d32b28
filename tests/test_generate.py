"""The synthetic world: raw data contract, determinism, labels, and each anomaly visible in raw events."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files, read_partition
from tasks.rules_baseline import RULES, user_day_metrics
from tasks.synthetic import (
    ANOMALY_KINDS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    LABEL_SCHEMA,
    USER_SCHEMA,
    InvalidWorldConfig,
    WorldConfig,
    build_population,
    generate_day,
    generate_world,
    write_users,
)
from tasks.synthetic.geography import COUNTRIES, UTC_OFFSET_HOURS

START = date(2026, 1, 5)  # a Monday
PROMOTION = START + timedelta(days=3)
PRICED = {"add_to_cart", "checkout", "purchase", "payment_failed"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small easy world with a high anomaly share so every kind appears several times."""
    config = WorldConfig(start=START, days=5, users=2500, seed=11, promotion_day=PROMOTION, anomaly_share=0.08,
                         difficulty="easy")
    layout = DataLayout(tmp_path_factory.mktemp("world") / "data")
    summary = generate_world(layout, config)
    events = pd.concat([read_partition(layout.raw_events(d)).assign(date=d) for d in config.day_list],
                       ignore_index=True)
    labels = pd.concat([pd.read_parquet(layout.labels(d)) for d in config.day_list], ignore_index=True)
    users = pd.read_parquet(layout.users)
    return config, layout, summary, events, labels, users


@pytest.fixture(scope="module")
def user_days(world):
    """Per user-day behaviour metrics, joined with the labels (the rules use only raw events)."""
    _, _, _, events, labels, users = world
    return user_day_metrics(events, labels, users)


def test_events_follow_the_raw_contract(world):
    config, layout, _, events, _, _ = world
    for day in config.day_list:
        for part in parquet_files(layout.raw_events(day)):
            assert pq.read_schema(part).remove_metadata().equals(EVENT_SCHEMA)
    assert events.event_id.is_unique
    for column in ("event_id", "ts", "user_id", "session_id", "event_type", "device_id", "ip", "country"):
        assert events[column].notna().all(), column
    assert set(events.event_type) == set(EVENT_TYPES)
    assert (events.price.dropna() >= 0).all()
    assert events.loc[events.event_type.isin(PRICED), "price"].notna().all()
    assert (events.loc[events.price.notna(), "quantity"] >= 1).all()
    assert events.country.str.fullmatch(r"[A-Z]{2}").all()
    day_start = pd.to_datetime(events.date).dt.tz_localize("UTC")
    assert ((events.ts >= day_start) & (events.ts < day_start + pd.Timedelta(days=1))).all()


def test_users_file_and_no_activity_before_signup(world):
    _, layout, summary, events, _, users = world
    assert pq.read_schema(layout.users).remove_metadata().equals(USER_SCHEMA)
    assert users.user_id.is_unique and len(users) == summary.users
    assert users.segment.nunique() == 5 and users.birth_year.isna().any() and users.gender.isna().any()
    first_seen = events.groupby("user_id").ts.min()
    signup = users.set_index("user_id").signup_ts.reindex(first_seen.index)
    assert (first_seen >= signup).all()


def test_labels_one_row_per_active_user_day(world):
    config, layout, summary, events, labels, _ = world
    assert pq.read_schema(layout.labels(START)).remove_metadata().equals(LABEL_SCHEMA)
    active = events.groupby("date").user_id.unique()
    for day in config.day_list:
        on_day = labels[labels.date == day]
        assert on_day.user_id.is_unique
        assert set(on_day.user_id) == set(active[day])
    assert (labels.is_anomaly == labels.anomaly_type.notna()).all()
    assert set(labels.anomaly_type.dropna()) == set(ANOMALY_KINDS)
    share = labels.is_anomaly.mean()
    assert 0.5 * config.anomaly_share < share < 1.6 * config.anomaly_share
    # anomalous users behave normally on other days, so labels are per user-day
    per_user = labels.groupby("user_id").is_anomaly.agg(["any", "all"])
    assert (per_user["any"] & ~per_user["all"]).sum() >= 10
    assert [d.anomalous_users for d in summary.days] == labels.groupby("date").is_anomaly.sum().tolist()


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_anomaly_kind_is_visible_in_raw_events_of_an_easy_world(user_days, kind):
    flagged = RULES[kind](user_days).fillna(0) >= 1
    is_kind = user_days.anomaly_type == kind
    assert is_kind.sum() >= 5, f"too few {kind} user-days to judge"
    precision = (flagged & is_kind).sum() / max(flagged.sum(), 1)
    recall = (flagged & is_kind).sum() / is_kind.sum()
    base_rate = is_kind.mean()
    assert precision >= 0.8 and precision > 20 * base_rate, (kind, precision, base_rate)
    assert recall >= 0.7, (kind, recall)


def test_normal_sessions_follow_the_shopping_funnel(world):
    _, _, _, events, labels, _ = world
    normal = labels.loc[~labels.is_anomaly, ["user_id", "date"]]
    e = events.merge(normal, on=["user_id", "date"]).sort_values(["session_id", "ts"])
    first_view = e[e.event_type == "view"].groupby(["session_id", "item_id"]).ts.min().rename("viewed")
    carts = e[e.event_type == "add_to_cart"].join(first_view, on=["session_id", "item_id"])
    assert (carts.viewed <= carts.ts).all()
    first_checkout = e[e.event_type == "checkout"].groupby("session_id").ts.min().rename("checkout")
    purchases = e[e.event_type == "purchase"].join(first_checkout, on="session_id")
    assert (purchases.checkout <= purchases.ts).all()
    logins = e[e.event_type == "login"].groupby("session_id").ts.min()
    assert (logins == e.groupby("session_id").ts.min().reindex(logins.index)).all()
    # a daily rhythm in local time: evenings are busier than small hours
    offset_h = pd.Series(UTC_OFFSET_HOURS, index=list(COUNTRIES))[e.country].to_numpy()
    local_hour = ((e.ts.dt.hour + e.ts.dt.minute / 60 + offset_h) % 24).astype(int)
    assert (local_hour.between(18, 21)).mean() > 3 * (local_hour.between(2, 5)).mean()
    funnel = e.event_type.value_counts()
    assert funnel["view"] > funnel["add_to_cart"] > funnel["purchase"] > funnel["payment_failed"] > 0


def test_promotion_day_shifts_behaviour(world):
    config, _, summary, events, _, users = world
    by_day = {d.day: d for d in summary.days}
    others = [by_day[d] for d in config.day_list if d != PROMOTION]
    assert by_day[PROMOTION].promotion and not any(d.promotion for d in others)
    assert by_day[PROMOTION].events > 1.8 * np.mean([d.events for d in others])
    coupon_rate = events[events.event_type == "coupon_apply"].groupby("date").size() / events.groupby("date").size()
    assert coupon_rate[PROMOTION] > 2 * coupon_rate.drop(PROMOTION).mean()
    signups = users.signup_ts.dt.date.value_counts()
    assert signups[PROMOTION] > 5 * signups.reindex([d for d in config.day_list if d != PROMOTION]).mean()


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_same_seed_same_bytes_in_any_day_order(tmp_path):
    config = WorldConfig(start=START, days=3, users=400, seed=5, anomaly_share=0.05)
    generate_world(DataLayout(tmp_path / "a"), config)
    population = build_population(config)  # a second run, days made newest first
    write_users(DataLayout(tmp_path / "b"), population)
    for day in reversed(config.day_list):
        generate_day(DataLayout(tmp_path / "b"), population, day)
    generate_world(DataLayout(tmp_path / "c"), config.model_copy(update={"seed": 6}))
    a, b, c = (_file_bytes(tmp_path / x / "raw") for x in "abc")
    assert len(a) == 1 + 2 * config.days and a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a)


def test_rerun_replaces_rather_than_duplicates(tmp_path):
    layout = DataLayout(tmp_path / "data")
    config = WorldConfig(start=START, days=1, users=300, seed=3)
    first = generate_world(layout, config)
    second = generate_world(layout, config)
    assert first == second
    assert len(read_partition(layout.raw_events(START))) == first.days[0].events
    assert not [p for p in (tmp_path / "data").rglob(".*")], "temporary folders left behind"


def test_large_day_streams_in_chunks_with_the_same_schema(tmp_path):
    layout = DataLayout(tmp_path / "data")
    config = WorldConfig(start=START, days=1, users=500, seed=9, events_per_day=200_000, chunk_users=2_000)
    summary = generate_world(layout, config)
    parts = parquet_files(layout.raw_events(START))
    assert len(parts) == summary.days[0].part_files >= 3
    assert all(pq.read_schema(p).remove_metadata().equals(EVENT_SCHEMA) for p in parts)
    events = read_partition(layout.raw_events(START), columns=["event_id", "user_id"])
    assert events.event_id.is_unique
    assert 0.7 * 200_000 < len(events) < 1.3 * 200_000
    assert summary.users > config.users  # more traffic came from more users, not busier ones
    labels = pd.read_parquet(layout.labels(START))
    assert set(labels.user_id) == set(events.user_id)


def test_small_events_per_day_thins_traffic(tmp_path):
    layout = DataLayout(tmp_path / "data")
    summary = generate_world(layout, WorldConfig(start=START, days=1, users=3000, seed=2, events_per_day=8_000))
    assert summary.users == 3000 and 0.6 * 8_000 < summary.days[0].events < 1.4 * 8_000


@pytest.mark.parametrize(("values", "named"), [
    ({"promotion_day": START - timedelta(days=1)}, "promotion_day"),
    ({"anomaly_share": 0.9}, "anomaly_share"),
    ({"days": 0}, "days"),
    ({"difficulty": "brutal"}, "difficulty"),
])
def test_bad_options_give_one_line_errors(values, named):
    with pytest.raises(InvalidWorldConfig) as caught:
        WorldConfig.checked(start=START, **values)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_generate_flow_runs_on_prefect(prefect_harness, settings):
    from flows.generate import generate_flow

    summary = generate_flow(settings=settings, start=START, days=2, users=300, seed=4, promotion_day=None,
                            anomaly_share=0.02, events_per_day=None)
    layout = DataLayout(settings.data_dir)
    assert [d.day for d in summary.days] == [START, START + timedelta(days=1)]
    for day in summary.days:
        assert len(read_partition(layout.raw_events(day.day))) == day.events > 0
        assert len(pd.read_parquet(layout.labels(day.day))) == day.active_users
    with pytest.raises(InvalidWorldConfig, match="anomaly_share"):
        generate_flow(settings=settings, start=START, days=1, users=300, seed=4, promotion_day=None,
                      anomaly_share=2.0, events_per_day=None)


def test_generated_day_validates_with_or_without_the_optional_payment_id(tmp_path):
    from tasks.settings import ValidationSettings
    from tasks.validation.day import validate_day

    layout = DataLayout(tmp_path / "data")
    generate_world(layout, WorldConfig(start=START, days=1, users=400, seed=8))
    with_payments = validate_day(layout, START, ValidationSettings())
    assert not with_payments.stopped and with_payments.rows_quarantined == 0, with_payments.reason
    assert read_partition(layout.validated(START)).payment_id.notna().any()

    for part in parquet_files(layout.raw_events(START)):  # an export from before the column existed
        pq.write_table(pq.read_table(part).drop_columns(["payment_id"]), part)
    without = validate_day(layout, START, ValidationSettings())
    assert not without.stopped and without.rows_validated == with_payments.rows_validated, without.reason
