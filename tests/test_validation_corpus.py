"""The corpus of bad batches: each kind is either quarantined with the right reason or stops the day.

Runs the real validation (Great Expectations checkpoint, Data Docs, Parquet writes) on ~200-row
days in a temp data root. Invariants checked on every case: raw input is byte-for-byte unchanged;
a passing day writes rows in = validated + quarantined; a stopped day writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_validation_data import (
    DAY,
    EVENT_SCHEMA,
    clean_events,
    clean_users,
    to_table,
    tree_digest,
    write_events,
    write_history,
    write_users,
)

from tasks.layout import DataLayout
from tasks.settings import ValidationSettings
from tasks.validation.day import validate_day
from tasks.validation.suites import EXPECTATIONS_DIR

NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"


@pytest.fixture
def layout(tmp_path) -> DataLayout:
    layout = DataLayout(tmp_path / "data")
    write_users(layout)
    return layout


def run_day(layout: DataLayout, limits: ValidationSettings | None = None):
    raw_before = tree_digest(layout.raw)
    summary = validate_day(layout, DAY, limits or ValidationSettings())
    assert tree_digest(layout.raw) == raw_before, "raw input was modified"
    return summary


def read_outputs(layout: DataLayout) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pq.read_table(layout.validated(DAY)).to_pandas(),
            pq.read_table(layout.quarantine(DAY)).to_pandas())


# --- quarantined: the day passes, the bad rows are kept aside with the failed expectation ------

def _null_user(df):
    df.loc[[5, 77], "user_id"] = None
    return [5, 77]


def _duplicate_ids(df):
    df.loc[[50, 120], "event_id"] = df.loc[[10, 11], "event_id"].to_numpy()
    return [50, 120]  # the later copies; the first copies stay validated


def _negative_price(df):
    priced = df.index[df["price"].notna()][:3]
    df.loc[priced, "price"] = -4.5
    return list(priced)


def _unknown_event_type(df):
    df.loc[[7, 8], "event_type"] = "teleport"
    return [7, 8]


def _ts_outside_day(df):
    df.loc[0, "ts"] = df.loc[0, "ts"] - timedelta(minutes=5)  # 23:55 the day before
    df.loc[199, "ts"] = df.loc[199, "ts"] + timedelta(seconds=2)  # 00:00:01 the next day
    return [0, 199]


def _purchase_without_price(df):
    row = df.index[df["event_type"] == "purchase"][0]
    df.loc[row, "price"] = None
    df.loc[row, "quantity"] = pd.NA
    return [row]


def _zero_quantity(df):
    row = df.index[df["event_type"] == "checkout"][1]
    df.loc[row, "quantity"] = 0
    return [row]


def _bad_country(df):
    df.loc[[30, 31], "country"] = ["deu", "Germany"]
    return [30, 31]


def _infinite_price(df):
    row = df.index[df["event_type"] == "purchase"][0]
    df.loc[row, "price"] = float("inf")
    return [row]


def _nul_in_user_id(df):
    df.loc[[3, 4], "user_id"] = ["u001\x00", "u001\x1b[31m"]  # a trailing NUL byte; a terminal escape
    return [3, 4]


def _absurd_session_id(df):
    df.loc[9, "session_id"] = "s" * 100_000
    return [9]


QUARANTINE_CASES = {
    "null_user_id": (_null_user, f"{NOT_NULL}(user_id)"),
    "duplicate_event_id": (_duplicate_ids, "expect_column_values_to_be_unique(event_id)"),
    "negative_price": (_negative_price, f"{BETWEEN}(price)"),
    "unknown_event_type": (_unknown_event_type, "expect_column_values_to_be_in_set(event_type)"),
    "ts_outside_day": (_ts_outside_day, f"{BETWEEN}(ts)"),
    "purchase_without_price": (_purchase_without_price,
                               f"{NOT_NULL}(price if event_type in add_to_cart/checkout/purchase/payment_failed)"),
    "zero_quantity": (_zero_quantity, f"{BETWEEN}(quantity if price is set)"),
    "bad_country_code": (_bad_country, "expect_column_values_to_match_regex(country)"),
    "infinite_price": (_infinite_price, f"{BETWEEN}(price)"),
    "nul_in_user_id": (_nul_in_user_id, "control_characters(user_id)"),
    "absurd_session_id": (_absurd_session_id, "identifier_length(session_id)"),
}


@pytest.mark.parametrize("case", list(QUARANTINE_CASES))
def test_row_level_failures_are_quarantined_with_their_reason(layout, case):
    break_rows, reason = QUARANTINE_CASES[case]
    events = clean_events()
    bad_rows = break_rows(events)
    write_events(layout, DAY, events)

    summary = run_day(layout)

    assert not summary.stopped, summary.reason
    validated, quarantined = read_outputs(layout)
    assert summary.rows_in == 200 == len(validated) + len(quarantined)
    assert (summary.rows_validated, summary.rows_quarantined) == (len(validated), len(quarantined))
    assert sorted(quarantined["event_id"]) == sorted(events.loc[bad_rows, "event_id"])
    assert set(quarantined["reason"]) == {reason}
    assert summary.quarantine_reasons == {reason: len(bad_rows)}
    assert set(validated.columns) == set(events.columns) and "reason" not in validated
    assert pq.read_schema(layout.validated(DAY) / "part-0.parquet").field("ts").type == pa.timestamp("us", tz="UTC")


def test_an_overflowing_price_and_quantity_are_quarantined_not_multiplied(layout):
    events = clean_events()
    row = events.index[events["event_type"] == "checkout"][0]
    events.loc[row, ["price", "quantity"]] = [1e308, 2**31 - 1]
    write_events(layout, DAY, events)
    summary = run_day(layout)
    _, quarantined = read_outputs(layout)
    assert quarantined["reason"].tolist() == [f"{BETWEEN}(price); {BETWEEN}(quantity if price is set)"]
    assert not summary.stopped


def test_duplicates_keep_the_first_copy(layout):
    events = clean_events()
    _duplicate_ids(events)
    write_events(layout, DAY, events)
    run_day(layout)
    validated, quarantined = read_outputs(layout)
    assert validated["event_id"].is_unique
    assert set(quarantined["event_id"]) <= set(validated["event_id"])


def test_a_row_failing_several_expectations_names_them_all(layout):
    events = clean_events()
    events.loc[12, ["user_id", "country"]] = [None, "xx"]
    write_events(layout, DAY, events)

    summary = run_day(layout)

    _, quarantined = read_outputs(layout)
    assert quarantined["reason"].tolist() == [
        f"{NOT_NULL}(user_id); expect_column_values_to_match_regex(country)"]
    assert summary.quarantine_reasons == {f"{NOT_NULL}(user_id)": 1, "expect_column_values_to_match_regex(country)": 1}


def test_clean_day_without_history_passes_and_says_the_volume_check_was_skipped(layout):
    write_events(layout, DAY, clean_events())
    suites_before = tree_digest(EXPECTATIONS_DIR)
    summary = run_day(layout)
    assert tree_digest(EXPECTATIONS_DIR) == suites_before, "the repo's suites were written at run time"
    assert (layout.root / "gx" / "great_expectations.yml").exists()
    assert (summary.stopped, summary.rows_validated, summary.rows_quarantined) == (False, 200, 0)
    assert summary.volume_check.startswith("skipped")
    assert summary.data_docs and (layout.data_docs / "index.html").exists()
    assert "raw_events" in Path(summary.data_docs).read_text(encoding="utf-8")


# --- stopped: the day fails with one line naming the expectation and the numbers ---------------

def _naive_ts(layout):
    table = to_table(clean_events())
    write_events(layout, DAY, table.set_column(1, "ts", table["ts"].cast(pa.timestamp("us"))))


def _mixed_zones(layout):
    first, second = clean_events().iloc[:100], clean_events().iloc[100:]
    berlin = to_table(second).set_column(1, "ts", to_table(second)["ts"].cast(pa.timestamp("us", tz="Europe/Berlin")))
    write_events(layout, DAY, first, berlin)


def _price_as_text(layout):
    events = clean_events()
    events["price"] = events["price"].map(lambda p: None if pd.isna(p) else f"{p:.2f}")
    write_events(layout, DAY, events, schema=EVENT_SCHEMA.set(7, pa.field("price", pa.string())))


def _missing_column(layout):
    write_events(layout, DAY, to_table(clean_events()).drop_columns(["quantity"]))


def _extra_column(layout):
    table = to_table(clean_events())
    write_events(layout, DAY, table.append_column("coupon_code", pa.array(["X"] * table.num_rows)))


def _corrupted(layout):
    directory = write_events(layout, DAY, clean_events())
    data = (directory / "part-0.parquet").read_bytes()
    (directory / "part-0.parquet").write_bytes(data[: len(data) // 2])


def _zero_rows(layout):
    write_events(layout, DAY, to_table(clean_events()).slice(0, 0))


def _no_files(layout):
    layout.raw_events(DAY).mkdir(parents=True)


def _no_partition(layout):
    pass


def _tenfold_spike(layout):
    write_history(layout, DAY, days=3)
    write_events(layout, DAY, clean_events(n=2000))


def _collapse(layout):
    write_history(layout, DAY, days=3)
    write_events(layout, DAY, clean_events(n=20))


def _too_many_bad_rows(layout):
    events = clean_events()
    events.loc[:19, "device_id"] = None  # 10% > max_bad_row_share 5%
    write_events(layout, DAY, events)


def _duplicate_burst(layout):
    events = clean_events()
    events.loc[100:105, "event_id"] = events.loc[0:5, "event_id"].to_numpy()  # 3% duplicates > 1%
    write_events(layout, DAY, events)


def _bad_users_table(layout):
    users = clean_users()
    users.loc[3, "user_id"] = users.loc[2, "user_id"]
    write_users(layout, users)
    write_events(layout, DAY, clean_events())


def _missing_users_table(layout):
    layout.users.unlink()
    write_events(layout, DAY, clean_events())


STOP_CASES = {
    "wrong_column_type": (_price_as_text, "expect_column_type_to_be(price): observed string[pyarrow], expected float64 (in part-0.parquet)"),
    "missing_column": (_missing_column, "expect_table_columns_to_match_set: missing quantity (in part-0.parquet)"),
    "extra_column": (_extra_column, "expect_table_columns_to_match_set: extra coupon_code (in part-0.parquet)"),
    "naive_timestamps": (_naive_ts, "expect_column_type_to_be(ts): observed datetime64[us] (naive, no time zone), expected datetime64[us, UTC] (in part-0.parquet)"),
    "mixed_time_zones": (_mixed_zones, "expect_column_type_to_be(ts): observed datetime64[us, Europe/Berlin], expected datetime64[us, UTC] (in part-1.parquet)"),
    "corrupted_parquet": (_corrupted, "unreadable Parquet part-0.parquet:"),
    "empty_partition": (_zero_rows, "empty input: ", "date=2026-01-08 has 0 rows"),
    "partition_without_files": (_no_files, "no input: partition ", "date=2026-01-08 holds no Parquet files"),
    "missing_partition": (_no_partition, "no input: partition ", "date=2026-01-08 does not exist"),
    "tenfold_volume_spike": (_tenfold_spike, "expect_table_row_count_to_be_between: observed 2000, expected 40..1000 rows (median 200 of 3 trailing days)"),
    "volume_collapse": (_collapse, "expect_table_row_count_to_be_between: observed 20, expected 40..1000 rows (median 200 of 3 trailing days)"),
    "too_many_bad_rows": (_too_many_bad_rows, "bad-row share 10.0% (20 of 200 rows) exceeds max_bad_row_share 5.0%; top reasons: expect_column_values_to_not_be_null(device_id) 20"),
    "duplicate_rate": (_duplicate_burst, "expect_column_proportion_of_unique_values_to_be_between(event_id): observed 0.97, expected >= 0.99"),
    "missing_users_table": (_missing_users_table, "no input: ", "users.parquet does not exist"),
    "bad_users_table": (_bad_users_table, "users table: expect_column_values_to_be_unique(user_id): 2 of 20 values fail (e.g. u002, u002)"),
}


@pytest.mark.parametrize("case", list(STOP_CASES))
def test_batch_level_failures_stop_the_day_and_write_nothing(layout, case):
    make_batch, reason, *detail = STOP_CASES[case]
    make_batch(layout)

    summary = run_day(layout)

    assert summary.stopped
    assert summary.reason.startswith(reason), summary.reason
    assert all(d in summary.reason for d in detail), summary.reason
    assert "\n" not in summary.reason
    assert not layout.validated(DAY).exists() and not layout.quarantine(DAY).exists()


def test_a_stopped_rerun_leaves_the_previous_good_outputs_intact(layout):
    write_events(layout, DAY, clean_events())
    assert not run_day(layout).stopped
    before = tree_digest(layout.validated(DAY)) | tree_digest(layout.quarantine(DAY))

    _price_as_text(layout)  # the day's raw data is re-delivered broken
    assert run_day(layout).stopped
    assert tree_digest(layout.validated(DAY)) | tree_digest(layout.quarantine(DAY)) == before


def test_rerun_replaces_the_day_instead_of_adding_to_it(layout):
    events = clean_events()
    _negative_price(events)
    write_events(layout, DAY, events)
    first = run_day(layout)
    second = run_day(layout)
    validated, quarantined = read_outputs(layout)
    assert first.model_dump(exclude={"data_docs"}) == second.model_dump(exclude={"data_docs"})
    assert len(validated) + len(quarantined) == 200


def test_limits_come_from_settings(layout):
    events = clean_events()
    events.loc[:19, "device_id"] = None  # 10% bad rows: stopped by default, allowed at 20%
    write_events(layout, DAY, events)
    summary = run_day(layout, ValidationSettings(max_bad_row_share=0.2))
    assert not summary.stopped and summary.rows_quarantined == 20


def test_volume_band_passes_a_normal_day(layout):
    write_history(layout, DAY, days=3)
    write_events(layout, DAY, clean_events(n=230))
    summary = run_day(layout)
    assert not summary.stopped
    assert summary.volume_check == "40..1000 rows (median 200 of 3 trailing days)"


def test_timestamps_at_the_day_edges_are_inside(layout):
    events = clean_events()
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    events.loc[0, "ts"] = start
    events.loc[199, "ts"] = start + timedelta(days=1) - timedelta(microseconds=1)
    write_events(layout, DAY, events)
    assert run_day(layout).rows_quarantined == 0


def test_several_part_files_make_one_day(layout):
    events = clean_events()
    strict = EVENT_SCHEMA.set(0, pa.field("event_id", pa.string(), nullable=False))  # as the generator writes
    write_events(layout, DAY, to_table(events.iloc[:120], strict), events.iloc[120:])
    summary = run_day(layout)
    assert (summary.stopped, summary.rows_in, summary.rows_validated) == (False, 200, 200)


def test_validated_and_quarantine_are_one_checkable_pair(layout):
    import shutil

    from tasks.validation.outputs import IncompleteValidation, check_split_complete

    write_events(layout, DAY, clean_events().assign(price=lambda d: d["price"].where(d.index != 3, -1.0)))
    run_day(layout)
    check_split_complete(layout.validated(DAY), layout.quarantine(DAY))  # a fresh pair passes

    kept = layout.root / "quarantine-from-first-run"
    shutil.copytree(layout.quarantine(DAY), kept)
    run_day(layout)  # a second run writes a new pair ...
    shutil.rmtree(layout.quarantine(DAY))
    shutil.copytree(kept, layout.quarantine(DAY))  # ... but "crashes" before its quarantine lands
    with pytest.raises(IncompleteValidation, match="different validation runs"):
        check_split_complete(layout.validated(DAY), layout.quarantine(DAY))


def _stored_results(layout: DataLayout, suites: str) -> dict[str, int]:
    """Path -> mtime of GX's stored results for ``suites`` (a glob): GX stores or rewrites one per run."""
    stored = (layout.root / "gx" / "uncommitted" / "validations").glob(f"{suites}/**/*.json")
    return {str(path): path.stat().st_mtime_ns for path in stored}


def _assert_a_clean_rerun_skips_gx_for(layout: DataLayout, suites: str, what: str) -> None:
    write_events(layout, DAY, clean_events())
    assert not run_day(layout).stopped
    after_first = _stored_results(layout, suites)
    assert after_first
    assert not run_day(layout).stopped
    assert _stored_results(layout, suites) == after_first, f"{what} went through GX again"


def test_an_unchanged_users_table_is_validated_once_and_a_changed_one_again(layout):
    _assert_a_clean_rerun_skips_gx_for(layout, "users*", "the same users table")

    _bad_users_table(layout)  # the table is replaced: its pass no longer counts
    summary = run_day(layout)
    assert summary.stopped and summary.reason.startswith("users table: expect_column_values_to_be_unique(user_id)")


def test_a_file_schema_that_passed_is_not_sent_through_gx_again_and_a_new_one_is(layout):
    _assert_a_clean_rerun_skips_gx_for(layout, "raw_events_schema", "a schema that passed")

    _naive_ts(layout)  # the day re-delivered with naive timestamps: a schema never seen
    summary = run_day(layout)
    assert summary.stopped and summary.reason.startswith("expect_column_type_to_be(ts)"), summary.reason
