"""The validate flow on the real Prefect engine, the CLI command, and the suites themselves."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from test_validation_data import DAY, clean_events, write_events, write_history, write_users

from tasks.errors import ValidationStopped
from tasks.layout import DataLayout
from tasks.run_status import read_day_status


def _artifact_markdown(key: str) -> str:
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None, f"no Prefect artifact {key}"
    return artifact.data


def test_passing_day_records_status_and_publishes_a_summary(prefect_harness, settings):
    from flows.validate import validate_flow

    layout = DataLayout(settings.data_dir)
    write_users(layout)
    events = clean_events()
    events.loc[[3, 4], "event_type"] = "teleport"
    write_events(layout, DAY, events)

    summary = validate_flow(day=DAY, settings=settings)

    assert (summary.rows_in, summary.rows_validated, summary.rows_quarantined) == (200, 198, 2)
    status = read_day_status(layout, DAY)["validation"]
    assert status["stopped"] is False and status["rows_quarantined"] == 2
    assert status["quarantine_reasons"] == {"expect_column_values_to_be_in_set(event_type)": 2}
    markdown = _artifact_markdown(f"validation-{DAY.isoformat()}")
    assert "passed" in markdown and "| 200 | 198 | 2 |" in markdown
    assert f"file://{summary.data_docs}" in markdown
    assert pq.read_metadata(layout.quarantine(DAY) / "part-0.parquet").num_rows == 2


def test_stopped_day_fails_the_flow_after_recording_why(prefect_harness, settings):
    from flows.validate import validate_flow

    layout = DataLayout(settings.data_dir)
    write_users(layout)
    write_history(layout, DAY, days=2)
    write_events(layout, DAY, clean_events(n=2000))

    with pytest.raises(ValidationStopped, match=r"expect_table_row_count_to_be_between: observed 2000"):
        validate_flow(day=DAY, settings=settings)

    status = read_day_status(layout, DAY)["validation"]
    assert status["stopped"] is True and "observed 2000, expected 40..1000" in status["reason"]
    assert "STOPPED" in _artifact_markdown(f"validation-{DAY.isoformat()}")
    assert not layout.validated(DAY).exists()


@pytest.fixture
def cli_env(monkeypatch, settings):
    """The CLI exports MLflow/Prefect variables for its process; monkeypatch restores them afterwards."""
    for name in ("MLFLOW_TRACKING_URI", "PREFECT_RESULTS_PERSIST_BY_DEFAULT", "SHOPGUARD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return settings


def test_cli_exits_0_on_a_passing_day_and_1_with_the_reason_when_stopped(prefect_harness, cli_env, capsys):
    from flows.cli import main

    layout = DataLayout(cli_env.data_dir)
    write_users(layout)
    write_events(layout, DAY, clean_events())
    args = ["--data-dir", str(cli_env.data_dir), "validate", "--date", DAY.isoformat()]

    assert main(args) == 0

    (layout.raw_events(DAY) / "part-0.parquet").write_bytes(b"not parquet at all")
    capsys.readouterr()
    assert main(args) == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith(f"shopguard: error: validation stopped {DAY}: unreadable Parquet part-0.parquet")
    assert pq.read_metadata(layout.validated(DAY) / "part-0.parquet").num_rows == 200  # the good day stays


def test_suites_are_versioned_and_cover_the_raw_contract():
    from tasks.synthetic.schema import EVENT_SCHEMA, EVENT_TYPES, PRICED_EVENT_TYPES, USER_SCHEMA
    from tasks.validation.frames import frame_dtype_names
    from tasks.validation.suites import load_suite

    events = load_suite("raw_events")
    assert events.version and load_suite("users").version and load_suite("features").version
    # The suite's column set and types are exactly what the generator writes (DESIGN.md's contract).
    assert events.column_types() == frame_dtype_names(EVENT_SCHEMA)
    assert load_suite("users").column_types().items() <= frame_dtype_names(USER_SCHEMA).items()
    by_type = {(e["type"], e["kwargs"].get("column")): e for e in events.expectations}
    assert set(by_type["expect_column_values_to_be_in_set", "event_type"]["kwargs"]["value_set"]) == set(EVENT_TYPES)
    priced = by_type["expect_column_values_to_not_be_null", "price"]["kwargs"]["row_condition"]["parameter"]
    assert set(priced) == PRICED_EVENT_TYPES
    for key in ("event_id", "ts", "user_id", "session_id", "device_id", "ip"):
        assert ("expect_column_values_to_not_be_null", key) in by_type


def test_feature_suite_json_matches_the_catalogue():
    from tasks.validation.feature_suite import build_feature_suite_doc
    from tasks.validation.suites import EXPECTATIONS_DIR

    stored = json.loads((EXPECTATIONS_DIR / "features.json").read_text(encoding="utf-8"))
    assert stored == build_feature_suite_doc(), "run: python -m tasks.validation.feature_suite --write"


def _feature_table(rows: int = 50):
    import pandas as pd

    from tasks.features.catalogue import all_columns, model_feature_names

    table = pd.DataFrame({"user_id": [f"u{i}" for i in range(rows)], "date": [DAY] * rows,
                          "segment": "regular", "country": "DE"})
    for name in model_feature_names():
        table[name] = 0.5
    for spec in all_columns():
        if spec.name not in table:  # numeric context columns that are not model inputs
            table[spec.name] = 1.0
    return table[[spec.name for spec in all_columns()]]


@pytest.mark.parametrize(
    ("damage", "expected_rows", "message"),
    [
        (lambda t: t, 60, "expect_table_row_count_to_be_between: observed 50, expected 59..61"),
        (lambda t: t.assign(night_share=[1.5] + [0.1] * 49), 50,
         "expect_column_values_to_be_between(night_share): 1 of 50 values fail (e.g. 1.5)"),
        (lambda t: t.assign(n_events=[None] + [1.0] * 49), 50, "expect_column_values_to_not_be_null(n_events): 1 of 50"),
        (lambda t: t.assign(n_views=1), 50, "expect_column_type_to_be(n_views): observed int64, expected float64"),
        (lambda t: t.drop(columns=["burstiness"]), 50, "expect_table_columns_to_match_set: missing burstiness"),
        (lambda t: t.assign(user_id=["u0"] * 50), 50, "expect_compound_columns_to_be_unique"),
    ],
)
def test_feature_table_guard(damage, expected_rows, message):
    from tasks.validation.feature_suite import validate_feature_table

    with pytest.raises(ValidationStopped, match=r"^feature table: ") as stopped:
        validate_feature_table(damage(_feature_table()), expected_rows)
    assert message in str(stopped.value)


def test_feature_table_guard_accepts_a_good_table():
    from tasks.validation.feature_suite import validate_feature_table

    validate_feature_table(_feature_table(), 50)
    validate_feature_table(_feature_table(), None)
