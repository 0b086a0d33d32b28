"""The feature store: each group on hand-made events with known answers, point-in-time
correctness, idempotence, bad input, and the catalogue agreeing with what is stored."""

from __future__ import annotations

import hashlib
import math
import shutil
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.errors import DataMissingError, ShopguardError
from tasks.features.catalogue import (
    FEATURE_CATALOGUE,
    FEATURE_SCHEMA_VERSION,
    GROUPS,
    SCHEMA_VERSION_KEY,
    all_columns,
    catalogue_markdown,
    feature_schema,
    features_in_group,
    model_feature_names,
)
from tasks.features.daily_summary import summary_dir
from tasks.features.store import (
    FeatureSchemaMismatch,
    build_day_features,
    load_feature_days,
    write_day_features,
)
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic

DAY = date(2026, 1, 10)
EVENT_COLUMNS = ["event_id", "ts", "user_id", "session_id", "event_type", "item_id", "category", "price",
                 "quantity", "device_id", "ip", "country"]
RAW_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("category", pa.string()), ("price", pa.float64()), ("quantity", pa.int32()), ("device_id", pa.string()),
    ("ip", pa.string()), ("country", pa.string()),
])
PRICED = {"add_to_cart", "checkout", "purchase", "payment_failed"}


def event(user: str, at: str, event_type: str = "view", session: str | None = None, *, price: float | None = None,
          quantity: int | None = None, item: str | None = None, category: str | None = None,
          device: str | None = None, ip: str | None = None, country: str = "DE") -> dict:
    """One raw event at ``at`` ("HH:MM:SS[.ffffff]") on the day the row is written to."""
    if event_type in PRICED and price is None:
        price = 10.0
    return {"user_id": user, "at": at, "session_id": session or f"s-{user}", "event_type": event_type,
            "item_id": item, "category": category, "price": price,
            "quantity": quantity if quantity is not None else (1 if price is not None else None),
            "device_id": device or f"d-{user}", "ip": ip or f"ip-{user}", "country": country}


def write_events(layout: DataLayout, day: date, events: list[dict], payment_ids: list[str | None] | None = None) -> None:
    """Validated events of ``day``; with ``payment_ids`` (one per event) the optional payment_id column too."""
    df = pd.DataFrame(events)
    df["ts"] = [datetime.combine(day, datetime.strptime(a, "%H:%M:%S.%f" if "." in a else "%H:%M:%S").time(),
                                 tzinfo=UTC) for a in df.pop("at")]
    df["event_id"] = [f"{day}-{i:05d}" for i in range(len(df))]
    table = pa.Table.from_pandas(df[EVENT_COLUMNS], schema=RAW_SCHEMA, preserve_index=False)
    if payment_ids is not None:
        table = table.append_column("payment_id", pa.array(payment_ids, pa.string()))
    write_partition_atomic(table, layout.validated(day))


def write_users(layout: DataLayout, users: list[dict]) -> None:
    df = pd.DataFrame(users)
    table = pa.table({
        "user_id": pa.array(df["user_id"], pa.string()),
        "signup_ts": pa.array(pd.to_datetime(df["signup_ts"], utc=True), pa.timestamp("us", tz="UTC")),
        "birth_year": pa.array(df.get("birth_year", pd.Series([None] * len(df))), pa.int64()),
        "gender": pa.array([None] * len(df), pa.string()),
        "country": pa.array(df.get("country", pd.Series(["DE"] * len(df))), pa.string()),
        "segment": pa.array(df.get("segment", pd.Series(["regular"] * len(df))), pa.string()),
    })
    layout.users.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, layout.users)


def user_row(df: pd.DataFrame, user: str) -> pd.Series:
    rows = df[df["user_id"] == user]
    assert len(rows) == 1, f"expected one row for {user}, got {len(rows)}"
    return rows.iloc[0]


@pytest.fixture
def layout(tmp_path) -> DataLayout:
    layout = DataLayout(tmp_path / "data")
    write_users(layout, [{"user_id": u, "signup_ts": "2025-06-01T00:00:00Z"} for u in ("a", "b", "c", "d")])
    return layout


# --- groups, known answers -------------------------------------------------------------------

def test_sequence_group_timing_and_paths(layout):
    write_events(layout, DAY, [
        event("a", "10:00:00", "view", "s1"),
        event("a", "10:00:00.5", "view", "s1"),
        event("a", "10:00:10", "add_to_cart", "s1"),
        event("a", "10:01:10", "purchase", "s1"),
        event("a", "11:00:00", "login", "s2"),
        # b interleaves two sessions: a view's dwell runs to the next event of *its* session
        event("b", "09:00:00", "view", "x1"),
        event("b", "09:00:01", "search", "x2"),
        event("b", "09:00:05", "view", "x1"),
        event("c", "08:00:00", "search", "only"),
    ])
    df = build_day_features(layout, DAY, window_days=1)
    a = user_row(df, "a")
    gaps = np.array([0.5, 9.5, 60.0, 3530.0])
    assert (a.n_events, a.n_views, a.n_cart_adds, a.n_purchases, a.n_logins, a.n_sessions) == (5, 2, 1, 1, 1, 2)
    assert a.events_per_session == 2.5
    assert a.gap_mean_s == pytest.approx(gaps.mean())
    assert a.gap_std_s == pytest.approx(gaps.std())
    assert a.gap_min_s == pytest.approx(0.5)
    assert a.gap_share_under_1s == pytest.approx(0.25)
    assert a.dwell_per_view_s == pytest.approx((0.5 + 9.5) / 2)
    assert a.path_length_to_purchase == 3  # view, view, add_to_cart before the purchase
    assert a.burstiness == pytest.approx((gaps.std() - gaps.mean()) / (gaps.std() + gaps.mean()))

    b = user_row(df, "b")
    assert b.dwell_per_view_s == pytest.approx(5.0)  # first view -> next x1 event; the last view has none
    assert b.n_sessions == 2 and b.gap_min_s == pytest.approx(1.0) and b.gap_share_under_1s == 0

    c = user_row(df, "c")  # a single event: every gap feature takes its documented neutral value
    assert (c.gap_mean_s, c.gap_std_s, c.gap_min_s, c.burstiness, c.path_length_to_purchase) == (0, 0, 0, 0, 0)


def test_clockwork_gaps_have_burstiness_minus_one(layout):
    write_events(layout, DAY, [event("a", f"10:00:{s:02d}", "view") for s in range(0, 50, 5)])
    a = user_row(build_day_features(layout, DAY, window_days=1), "a")
    assert a.burstiness == pytest.approx(-1.0)
    assert a.gap_mean_s == pytest.approx(5.0) and a.gap_std_s == pytest.approx(0.0)


def test_profile_group(layout):
    write_users(layout, [
        {"user_id": "a", "signup_ts": "2026-01-01T12:00:00Z", "birth_year": 1990, "segment": "vip", "country": "FR"},
        {"user_id": "b", "signup_ts": "2025-01-10T00:00:00Z", "birth_year": None, "segment": None, "country": "DE"},
    ])
    write_events(layout, DAY - timedelta(days=2), [event("a", "12:00:00", "purchase")])
    write_events(layout, DAY, [event("a", "09:00:00", "purchase"), event("b", "09:00:00"),
                               event("ghost", "09:00:00")])
    df = build_day_features(layout, DAY, window_days=3)

    a = user_row(df, "a")
    assert a.account_age_days == pytest.approx(9.5)  # signup Jan 1 12:00 -> end of Jan 10
    assert a.days_signup_to_first_purchase == pytest.approx(7.0)  # first purchase Jan 8 12:00, not today's
    assert a.log_minutes_signup_to_first_purchase == pytest.approx(math.log(1 + 7 * 1440))
    assert a.age_band == 3  # 36 in 2026
    assert (a.segment, a.country) == ("vip", "FR")

    b = user_row(df, "b")  # never purchased: censored at the account age
    assert b.days_signup_to_first_purchase == pytest.approx(b.account_age_days) == pytest.approx(366.0)
    assert b.age_band == 0 and b.segment is None

    ghost = user_row(df, "ghost")  # not in the users table: neutral profile, no descriptive fields
    assert (ghost.account_age_days, ghost.age_band) == (0, 0) and ghost.country is None


def test_pattern_group_today(layout):
    write_events(layout, DAY, [
        *[event("a", f"10:00:0{i}", "view", item=f"i{i}", category=f"c{i % 2}") for i in range(4)],
        event("a", "10:01:00", "add_to_cart", item="i0", category="c0", price=10.0, quantity=3),
        event("a", "10:01:30", "add_to_cart", item="i1", category="c1", price=5.0),
        event("a", "10:02:00", "purchase", item="i0", category="c0", price=10.0, quantity=3),
        event("a", "10:03:00", "purchase", item="i1", category="c1", price=5.0),
        *[event("a", f"02:00:0{i}", "payment_failed", item="i9", category="c9", price=99.0) for i in range(6)],
        event("a", "10:04:00", "review", item="i0"),
        event("a", "10:05:00", "coupon_apply"),
        event("b", "10:00:00", "review", item="x"),
    ])
    a = user_row(build_day_features(layout, DAY, window_days=1), "a")
    assert a.view_to_cart_ratio == pytest.approx(2 / 4)
    assert a.cart_to_purchase_ratio == pytest.approx(2 / 2)
    assert a.spend_sum == pytest.approx(35.0) and a.spend_max == pytest.approx(30.0)  # failed payments do not count
    assert (a.distinct_items, a.distinct_categories) == (5, 3)
    assert (a.n_reviews, a.reviews_per_purchase, a.n_coupon_applies) == (1, 0.5, 1)
    assert a.payment_failure_rate == pytest.approx(6 / 8)
    assert a.night_share == pytest.approx(6 / 16)
    assert (a.events_zscore, a.spend_zscore, a.spend_log_ratio_to_median) == (0, 0, 0)  # no history

    b = user_row(build_day_features(layout, DAY, window_days=1), "b")  # a review without purchases: brushing
    assert b.reviews_per_purchase == 1 and b.payment_failure_rate == 0


def test_pattern_group_against_own_history(layout):
    write_events(layout, DAY - timedelta(days=3), [event("a", "10:00:00", "purchase", price=10.0)] * 2)
    write_events(layout, DAY - timedelta(days=2), [event("a", "10:00:00", "purchase", price=30.0)] * 4)
    write_events(layout, DAY, [event("a", f"10:00:0{i}", "view", session=f"s{i}") for i in range(9)])
    a = user_row(build_day_features(layout, DAY, window_days=4), "a")
    assert a.events_zscore == pytest.approx((9 - 3) / math.sqrt(2))  # history 2 and 4 events
    assert a.spend_zscore == pytest.approx((0 - 70) / np.std([20.0, 120.0], ddof=1))
    assert a.sessions_zscore == pytest.approx((9 - 1) / 1.0)  # one session each day: std floored at 1
    assert a.spend_log_ratio_to_median == pytest.approx(math.log(1) - math.log(1 + 70))


def test_context_group_devices_sharing_and_platform(layout):
    outside, early, mid = DAY - timedelta(days=3), DAY - timedelta(days=2), DAY - timedelta(days=1)
    write_users(layout, [{"user_id": u, "signup_ts": "2025-06-01T00:00:00Z", "country": "DE"}
                         for u in ("a", "b", "c", "d", "e")])
    write_events(layout, outside, [event("d", "10:00:00", device="shared")] * 5)  # before the window
    write_events(layout, early, [event("a", "10:00:00", device="d1", ip="ip1"),
                                 event("c", "10:00:00", device="shared")] * 5)   # 10 events
    write_events(layout, mid, [event("e", "10:00:00")] * 30)                      # 30 events
    write_events(layout, DAY, [
        event("a", "10:00:00", device="d1", ip="ip1"),
        event("a", "10:00:01", device="shared", ip="ip1"),
        event("a", "10:00:02", device="d1", ip="ip9", country="FR"),
        event("a", "10:00:03", device="d1", ip="ip1"),
        event("b", "10:00:00", device="shared", ip="ip9"),
        *[event("e", "10:00:00")] * 35,
    ])                                                                            # 40 events, 3 users
    df = build_day_features(layout, DAY, window_days=3)
    a = user_row(df, "a")
    assert (a.distinct_devices, a.distinct_ips, a.distinct_countries) == (2, 2, 2)
    assert (a.new_devices, a.new_ips, a.new_countries) == (1, 1, 1)  # "shared", "ip9", "FR"
    assert a.foreign_country_share == pytest.approx(0.25)
    assert a.device_shared_users == 2  # b today and c earlier in the window; d was before it
    assert a.ip_shared_users == 1      # b on ip9
    assert a.platform_volume_ratio == pytest.approx(40 / 20)  # median of 10 and 30
    assert a.activity_vs_platform == pytest.approx(4 / (40 / 3))

    b = user_row(df, "b")  # first day: everything is new
    assert (b.new_devices, b.new_ips, b.new_countries) == (1, 1, 1)
    assert (a.distinct_devices_window, a.distinct_ips_window) == (2, 2)  # d1 and shared; ip1 and ip9
    assert (b.distinct_devices_window, b.distinct_ips_window) == (1, 1)
    # no payment_id column in these events: the payment features are well defined, and 0
    assert (df["distinct_payments"] == 0).all() and (df["payment_shared_users"] == 0).all()


def test_entity_features_cards_shared_across_users_and_days_and_velocity(layout):
    earlier, mid = DAY - timedelta(days=2), DAY - timedelta(days=1)
    write_events(layout, earlier, [event("a", "10:00:00", "purchase", device="d1", ip="ip1"),
                                   event("c", "10:00:00", "purchase", device="d3", ip="ip3")],
                 payment_ids=["card-1", "card-ring"])
    write_events(layout, mid, [event("a", "10:00:00", "view", device="d2", ip="ip2")], payment_ids=[None])
    write_events(layout, DAY, [
        event("a", "10:00:00", "view", device="d4", ip="ip4"),
        event("a", "10:01:00", "purchase", device="d4", ip="ip4"),
        event("a", "10:02:00", "payment_failed", device="d4", ip="ip4"),
        event("b", "10:00:00", "purchase", device="d5", ip="ip5"),
        event("d", "10:00:00", "view", device="d6", ip="ip6"),
    ], payment_ids=[None, "card-ring", "card-2", "card-ring", None])
    df = build_day_features(layout, DAY, window_days=3)
    a, b, d = user_row(df, "a"), user_row(df, "b"), user_row(df, "d")
    assert a.distinct_payments == 2             # card-ring and card-2; the view carries no card
    assert a.payment_shared_users == 2          # card-ring: b today and c two days ago
    assert b.payment_shared_users == 2          # a and c
    assert (d.distinct_payments, d.payment_shared_users) == (0, 0)
    assert (a.distinct_devices_window, a.distinct_ips_window) == (3, 3)  # d1, d2, d4 over the window
    assert (a.distinct_devices, a.new_devices) == (1, 1)

    narrow = user_row(build_day_features(layout, DAY, window_days=1), "a")  # c's day is outside the window
    assert narrow.payment_shared_users == 1 and narrow.distinct_devices_window == 1


def test_a_day_without_payment_ids_next_to_days_with_them(layout):
    write_events(layout, DAY - timedelta(days=1), [event("a", "10:00:00", "purchase")], payment_ids=["card-1"])
    write_events(layout, DAY, [event("b", "10:00:00", "purchase")])  # an older export without the column
    b = user_row(build_day_features(layout, DAY, window_days=2), "b")
    assert (b.distinct_payments, b.payment_shared_users) == (0, 0)


# --- point in time, idempotence, bad input -----------------------------------------------------

def small_world(layout: DataLayout, days: list[date]) -> None:
    rng = np.random.default_rng(3)
    for offset, day in enumerate(days):
        events, cards = [], []
        for u in ("a", "b", "c", "d"):
            for i in range(int(rng.integers(1, 8))):
                kind = ["view", "search", "add_to_cart", "purchase", "review"][int(rng.integers(0, 5))]
                events.append(event(u, f"{int(rng.integers(0, 24)):02d}:{i:02d}:00", kind,
                                    device=f"d{int(rng.integers(0, 3))}", ip=f"ip{offset}{u}", item=f"i{i}"))
                # cards on cart adds too (not only purchases) so every small day has shared cards
                cards.append(f"card-{int(rng.integers(0, 3))}" if kind in ("add_to_cart", "purchase") else None)
        write_events(layout, day, events, payment_ids=cards)


def test_adding_the_next_day_changes_nothing_in_the_day(layout):
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    small_world(layout, days)
    before = build_day_features(layout, DAY, window_days=7)

    # the future: strangers on the day's devices, IPs and cards, first purchases, new devices, volume
    nxt = DAY + timedelta(days=1)
    future = [event(u, "00:00:01", "purchase", device=f"d{i % 3}" if i < 10 else f"new-{u}-{i}", ip=f"ip2{u[-1]}")
              for u in ("a", "b", "c", "d", "xa", "xb", "xc", "xd") for i in range(20)]
    write_events(layout, nxt, future, payment_ids=[f"card-{i % 3}" for i in range(len(future))])
    build_day_features(layout, nxt, window_days=7)  # also caches the future day's summary
    after = build_day_features(layout, DAY, window_days=7)
    pd.testing.assert_frame_equal(before, after)
    assert before["payment_shared_users"].gt(0).any()  # the entity features are exercised, not all 0


def test_rebuild_gives_identical_bytes_warm_or_cold(layout):
    small_world(layout, [DAY - timedelta(days=1), DAY])
    path = write_day_features(layout, DAY, build_day_features(layout, DAY, window_days=3))
    first = path.read_bytes()
    path = write_day_features(layout, DAY, build_day_features(layout, DAY, window_days=3))
    assert path.read_bytes() == first
    shutil.rmtree(layout.root / "features_state")  # cold: summaries recomputed from validated events
    path = write_day_features(layout, DAY, build_day_features(layout, DAY, window_days=3))
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]  # no temp leftovers


def test_changed_history_is_picked_up_not_served_stale(layout):
    earlier = DAY - timedelta(days=1)
    write_events(layout, earlier, [event("a", "10:00:00", device="d1")])
    write_events(layout, DAY, [event("a", "10:00:00", device="d2")])
    assert user_row(build_day_features(layout, DAY, 2), "a").new_devices == 1
    write_events(layout, earlier, [event("a", "10:00:00", device="d2")])  # re-validated differently
    assert user_row(build_day_features(layout, DAY, 2), "a").new_devices == 0


def test_building_never_modifies_validated_inputs(layout):
    small_world(layout, [DAY - timedelta(days=1), DAY])

    def digest() -> dict:
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (layout.root / "validated").rglob("*")
                if p.is_file()} | {layout.users: hashlib.sha256(layout.users.read_bytes()).hexdigest()}

    before = digest()
    write_day_features(layout, DAY, build_day_features(layout, DAY, 3))
    assert digest() == before
    assert summary_dir(layout, DAY).exists() and not (layout.features(DAY) / "user_day.parquet").exists()


def test_missing_day_or_users_is_a_one_line_error(layout, tmp_path):
    with pytest.raises(DataMissingError, match="no validated events for 2026-01-10") as info:
        build_day_features(layout, DAY, 7)
    assert "\n" not in str(info.value)
    write_events(layout, DAY, [event("a", "10:00:00")])
    layout.users.unlink()
    with pytest.raises(DataMissingError, match="users table not found"):
        build_day_features(layout, DAY, 7)


def test_missing_history_days_are_skipped(layout):
    write_events(layout, DAY, [event("a", "10:00:00")])
    a = user_row(build_day_features(layout, DAY, 28), "a")
    assert (a.platform_volume_ratio, a.events_zscore, a.new_devices) == (1, 0, 1)


# --- storage and catalogue ---------------------------------------------------------------------

def test_catalogue_is_well_formed():
    names = [spec.name for spec in all_columns()]
    assert len(names) == len(set(names))
    assert {spec.group for spec in FEATURE_CATALOGUE} == set(GROUPS)
    inputs = model_feature_names()
    assert 30 <= len(inputs) <= 50
    assert all(spec.dtype == "float64" for spec in FEATURE_CATALOGUE if spec.model_input)
    assert all(spec.description and "\n" not in spec.description for spec in all_columns())
    assert sum(len(features_in_group(g)) for g in GROUPS) == len(FEATURE_CATALOGUE)
    assert all(f"`{name}`" in catalogue_markdown() for name in inputs)


def test_each_group_builder_declares_exactly_its_catalogue_group():
    from tasks.features import context, pattern, profile, sequence

    builders = {"sequence": sequence, "profile": profile, "pattern": pattern, "context": context}
    assert set(builders) == set(GROUPS)
    for group, module in builders.items():
        assert list(module.COLUMNS) == features_in_group(group), group


def test_stored_table_matches_schema_and_catalogue(layout):
    small_world(layout, [DAY])
    df = build_day_features(layout, DAY, 1)
    assert list(df.columns) == [spec.name for spec in all_columns()]
    assert df[model_feature_names()].notna().all().all()
    assert np.isfinite(df[model_feature_names()].to_numpy()).all()
    assert df["user_id"].is_unique and df["user_id"].is_monotonic_increasing

    path = write_day_features(layout, DAY, df)
    stored = pq.read_schema(path)
    assert stored.remove_metadata().equals(feature_schema().remove_metadata())
    assert stored.metadata[SCHEMA_VERSION_KEY] == FEATURE_SCHEMA_VERSION.encode()
    for spec in all_columns():
        assert str(stored.field(spec.name).type).startswith({"float64": "double", "string": "string",
                                                             "date32": "date32"}[spec.dtype])


def test_load_feature_days_prunes_columns_and_checks_versions(layout):
    days = [DAY - timedelta(days=1), DAY]
    small_world(layout, days)
    for day in days:
        write_day_features(layout, day, build_day_features(layout, day, 2))
    loaded = load_feature_days(layout, days, columns=["n_events"])
    assert list(loaded.columns) == ["user_id", "date", "n_events"]
    assert loaded["date"].tolist() == sorted(loaded["date"].tolist()) and set(loaded["date"]) == set(days)

    with pytest.raises(DataMissingError, match="no features for 2026-01-11"):
        load_feature_days(layout, [DAY + timedelta(days=1)])

    path = layout.features(DAY) / "part-0.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({SCHEMA_VERSION_KEY: b"0"}), path)
    with pytest.raises(FeatureSchemaMismatch, match="schema version 0"):
        load_feature_days(layout, days)


def test_write_rejects_a_table_that_does_not_fit(layout):
    small_world(layout, [DAY])
    df = build_day_features(layout, DAY, 1)
    with pytest.raises(ShopguardError, match="lacks columns: n_events"):
        write_day_features(layout, DAY, df.drop(columns=["n_events"]))
    with pytest.raises(ShopguardError, match="other dates"):
        write_day_features(layout, DAY + timedelta(days=1), df)
    assert not layout.features(DAY).exists()  # nothing half-written


def test_nanosecond_timestamps_build_the_same_features(layout, tmp_path):
    events = [event("a", "10:00:00", "view"), event("a", "10:00:02.5", "purchase"), event("b", "23:59:59")]
    write_events(layout, DAY, events)
    expected = build_day_features(layout, DAY, 1)

    ns_layout = DataLayout(tmp_path / "ns")
    shutil.copytree(layout.raw, ns_layout.raw)
    table = pq.read_table(layout.validated(DAY) / "part-0.parquet")
    ts_index = table.schema.get_field_index("ts")
    table = table.set_column(ts_index, "ts", table.column("ts").cast(pa.timestamp("ns", tz="UTC")))
    write_partition_atomic(table, ns_layout.validated(DAY))
    pd.testing.assert_frame_equal(build_day_features(ns_layout, DAY, 1), expected)


def test_window_reads_only_its_own_days(layout):
    days = [DAY - timedelta(days=k) for k in range(4, -1, -1)]
    small_world(layout, days)
    build_day_features(layout, DAY, window_days=2)
    assert layout.days_with("features_state") == days[-2:]


def test_spend_sum_does_not_depend_on_how_duckdb_splits_a_users_rows(tmp_path):
    """A DOUBLE sum's last bit follows the order DuckDB's threads combine partial sums in; on big
    days that differed between runs and between Dask shard counts. The sum is exact now."""
    import duckdb

    from tasks.features.daily_summary import user_day_query

    rng = np.random.default_rng(7)
    n = 600_000  # several row groups, so DuckDB's threads each see part of a user's rows
    events = pd.DataFrame({"user_id": rng.integers(0, 50, n).astype(str), "session_id": "s",
                           "event_type": "purchase", "ts": pd.Timestamp("2026-01-01", tz="UTC"),
                           "price": np.round(rng.uniform(0.01, 999.99, n), 2), "quantity": rng.integers(1, 4, n)})
    answers = []
    for order, threads in ((np.arange(n), 1), (rng.permutation(n), 2), (rng.permutation(n), 2)):
        path = tmp_path / f"events-{len(answers)}.parquet"
        events.iloc[order].to_parquet(path, row_group_size=50_000)
        with duckdb.connect() as con:
            con.execute(f"SET threads = {threads}")
            answers.append(con.execute(user_day_query(f"read_parquet('{path}')", date(2026, 1, 1))).df())
    for other in answers[1:]:
        pd.testing.assert_frame_equal(answers[0], other, check_exact=True)
    expected = (events["price"] * events["quantity"]).groupby(events["user_id"]).sum()
    assert np.allclose(answers[0].set_index("user_id")["spend_sum"], expected.sort_index(), rtol=1e-12)
