"""One place that reads and writes a day's derived dataset, with the checks every reader needs.

Kedro-catalog style: ``DataCatalog(layout).load("features", day)`` returns the partition only
after checking what a reader would otherwise trust blindly: exactly one readable part file, the
expected columns and types, the schema version, every row dated ``day``, and unique, non-null
keys. A failure is one line naming the dataset, the day and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.errors import DataMissingError, ShopguardError, first_line
from tasks.features.catalogue import FEATURE_SCHEMA_VERSION, SCHEMA_VERSION_KEY, feature_schema
from tasks.layout import DataLayout
from tasks.parquet_io import settled_parquet_files, write_partition_atomic

PART_FILE = "part-0.parquet"
KEYS = ("user_id", "date")


class DatasetCorrupt(ShopguardError):
    """A stored partition is there but breaks its contract (extra files, wrong rows, wrong schema)."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: Callable[[DataLayout, date], Path]
    rebuild: str  # the command that rebuilds a partition, with {day}
    schema: Callable[[], pa.Schema] | None = None  # when set: names, types and version must match
    version_key: bytes | None = None
    version: str | None = None


DATASETS: dict[str, DatasetSpec] = {
    "features": DatasetSpec("features", DataLayout.features, "shopguard features --date {day}",
                            schema=feature_schema, version_key=SCHEMA_VERSION_KEY, version=FEATURE_SCHEMA_VERSION),
    "scores": DatasetSpec("scores", DataLayout.scores, "shopguard score --date {day}"),
}


@dataclass(frozen=True)
class DataCatalog:
    layout: DataLayout

    def load(self, name: str, day: date, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The checked partition of dataset ``name`` for ``day`` (only ``columns`` plus the keys, if given)."""
        spec = DATASETS[name]
        table = _checked_table(spec, spec.folder(self.layout, day), day)
        if columns is not None:
            table = table.select(list(dict.fromkeys([*KEYS, *columns])))
        frame = table.to_pandas()
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        return frame

    def save(self, name: str, day: date, frame: pd.DataFrame) -> Path:
        """Replace the partition atomically; refuses rows that the next ``load`` would refuse."""
        spec = DATASETS[name]
        schema = spec.schema() if spec.schema else None
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        _check_rows(spec, table, day, where="rows to save")
        return write_partition_atomic(table, spec.folder(self.layout, day), filename=PART_FILE)


def _checked_table(spec: DatasetSpec, folder: Path, day: date) -> pa.Table:
    what = f"{spec.name} for {day}"
    hint = spec.rebuild.format(day=day)
    files = settled_parquet_files(folder) if folder.is_dir() else []
    if not files:
        raise DataMissingError(f"no {what}: {folder} holds no Parquet file; run `{hint}` first")
    if [f.name for f in files] != [PART_FILE]:
        raise DatasetCorrupt(f"{what}: {len(files)} part files ({', '.join(f.name for f in files)}) where only "
                             f"{PART_FILE} belongs (a copied or hand-added file?); rerun `{hint}`")
    try:
        table = pq.read_table(files[0])
    except (pa.ArrowException, OSError) as exc:
        raise DatasetCorrupt(f"{what}: unreadable Parquet {files[0].name} ({first_line(exc)}); rerun `{hint}`") from None
    _check_schema(spec, table.schema, what, hint)
    if table.num_rows == 0:
        raise DataMissingError(f"no {what}: the partition has no rows")
    _check_rows(spec, table, day, where=what, hint=hint)
    return table


def _check_schema(spec: DatasetSpec, schema: pa.Schema, what: str, hint: str) -> None:
    missing = [k for k in KEYS if k not in schema.names]
    if missing:
        raise DatasetCorrupt(f"{what}: key columns {', '.join(missing)} are missing; rerun `{hint}`")
    if spec.version_key is not None:
        found = (schema.metadata or {}).get(spec.version_key)
        found = found.decode() if found is not None else None
        if found != spec.version:
            raise DatasetCorrupt(f"{what}: schema version {found}, expected {spec.version} (written by another "
                                 f"version, or edited by hand?); rerun `{hint}`")
    if spec.schema is not None:
        expected = {f.name: f.type for f in spec.schema()}
        actual = {f.name: f.type for f in schema}
        wrong = [f"{n} is {actual[n]} not {t}" for n, t in expected.items() if n in actual and actual[n] != t]
        missing = [n for n in expected if n not in actual]
        extra = [n for n in actual if n not in expected]
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
                   ([f"extra {', '.join(extra)}"] if extra else []) + wrong[:3]
        if problems:
            raise DatasetCorrupt(f"{what}: columns differ from the schema ({'; '.join(problems)}); rerun `{hint}`")


def _check_rows(spec: DatasetSpec, table: pa.Table, day: date, where: str, hint: str | None = None) -> None:
    suffix = f"; rerun `{hint}`" if hint else ""
    for key in KEYS:
        nulls = table.column(key).null_count
        if nulls:
            raise DatasetCorrupt(f"{where}: {nulls} rows without {key}{suffix}")
    dates = table.column("date").cast(pa.date32())
    other = pc.invert(pc.equal(dates, pa.scalar(day, pa.date32())))
    n_other = pc.sum(other.cast(pa.int64())).as_py() or 0
    if n_other:
        example = pc.filter(dates, other)[0].as_py()
        raise DatasetCorrupt(f"{where}: {n_other} rows dated {example}, not {day}{suffix}")
    users = table.column("user_id")
    n_duplicates = len(users) - pc.count_distinct(users).as_py()
    if n_duplicates:
        counts = pc.value_counts(users)
        repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise DatasetCorrupt(f"{where}: {n_duplicates} duplicate (user_id, date) rows, e.g. user {repeated!r}{suffix}")
