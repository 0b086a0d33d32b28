"""Hostile feature and score partitions: every one is refused by the catalog with one clear line."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.catalog import DataCatalog, DatasetCorrupt
from tasks.errors import DataMissingError
from tasks.features.catalogue import all_columns
from tasks.layout import DataLayout

DAY = date(2026, 3, 1)


def feature_frame(day: date, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": [f"u{i:04d}" for i in range(n)], "date": day})
    for spec in all_columns()[2:]:
        frame[spec.name] = "x" if spec.dtype == "string" else rng.random(n)
    return frame


@pytest.fixture
def catalog(tmp_path):
    catalog = DataCatalog(DataLayout(tmp_path / "data"))
    catalog.save("features", DAY, feature_frame(DAY))
    return catalog


def part(catalog: DataCatalog):
    return catalog.layout.features(DAY) / "part-0.parquet"


def refused(catalog: DataCatalog, error=DatasetCorrupt) -> str:
    with pytest.raises(error) as info:
        catalog.load("features", DAY)
    message = str(info.value)
    assert "\n" not in message and message.startswith(("features for 2026-03-01", "no features for 2026-03-01"))
    return message


def test_a_clean_partition_loads_with_its_keys(catalog):
    frame = catalog.load("features", DAY, columns=["n_events"])
    assert list(frame.columns) == ["user_id", "date", "n_events"] and len(frame) == 40
    assert set(frame["date"]) == {DAY}


def test_a_duplicated_part_file_is_refused_not_scored_twice(catalog):
    shutil.copy(part(catalog), part(catalog).with_name("part-0 (copy).parquet"))
    assert "2 part files" in refused(catalog)


def test_rows_of_another_date_are_refused(catalog):
    frame = pd.concat([feature_frame(DAY), feature_frame(DAY - timedelta(days=1)).assign(
        user_id=lambda f: "v" + f["user_id"])])
    with pytest.raises(DatasetCorrupt, match="40 rows dated 2026-02-28"):
        catalog.save("features", DAY, frame)  # the writer refuses too
    schema = pq.read_schema(part(catalog))
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), part(catalog))
    assert "40 rows dated 2026-02-28, not 2026-03-01" in refused(catalog)


def test_duplicate_user_rows_are_refused(catalog):
    frame = feature_frame(DAY)
    frame = pd.concat([frame, frame.iloc[:3]])
    pq.write_table(pa.Table.from_pandas(frame, schema=pq.read_schema(part(catalog)), preserve_index=False),
                   part(catalog))
    assert "3 duplicate (user_id, date) rows, e.g. user 'u0000'" in refused(catalog)


def test_a_partition_edited_by_hand_with_pandas_is_refused(catalog):
    frame = pd.read_parquet(part(catalog))
    frame.loc[0, "n_events"] = 1e9
    frame.to_parquet(part(catalog), index=False)  # pandas drops the schema version
    assert "schema version None, expected" in refused(catalog)


def test_a_changed_column_type_is_refused(catalog):
    table = pq.read_table(part(catalog))
    frame = table.to_pandas()
    frame["n_events"] = frame["n_events"].astype("int64")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata),
                   part(catalog))
    assert "n_events is int64 not double" in refused(catalog)


@pytest.mark.parametrize("damage", ["truncated", "zero-byte"])
def test_truncated_or_empty_parquet_is_one_line(catalog, damage):
    data = part(catalog).read_bytes()
    part(catalog).write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    assert "unreadable Parquet part-0.parquet" in refused(catalog)


def test_no_partition_names_the_command_to_run(catalog):
    shutil.rmtree(catalog.layout.features(DAY))
    assert "shopguard features --date 2026-03-01" in refused(catalog, DataMissingError)
