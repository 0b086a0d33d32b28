"""Read a source table and write what ingest mapped: raw events, users, labels, quarantine.

The source file is only read. Each output is written atomically and replaces what an earlier
ingest of the same days wrote, so a rerun gives the same data root; users are merged by user_id.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.errors import DataMissingError, ShopguardError, first_line
from tasks.ingest.transform import MappedTable
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic
from tasks.synthetic.schema import EVENT_SCHEMA, LABEL_SCHEMA, USER_SCHEMA

QUARANTINE_FILE = "rows.parquet"


def read_source(path: Path) -> pd.DataFrame:
    """A CSV (every column read as text, so nothing is silently coerced) or Parquet table."""
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"source table not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, pa.ArrowException, pd.errors.ParserError) as exc:
        raise ShopguardError(f"cannot read {path}: {first_line(exc)}") from exc
    raise ShopguardError(f"source table must be .csv or .parquet, got {path.name}")


def ingest_quarantine(layout: DataLayout, source: Path) -> Path:
    """Where the rows of ``source`` that could not be mapped are kept (beside validation's quarantine)."""
    return layout.root / "quarantine" / "ingest" / Path(source).stem


def _merged_users(layout: DataLayout, users: pd.DataFrame) -> pa.Table:
    new = pa.Table.from_pandas(users, schema=USER_SCHEMA, preserve_index=False).replace_schema_metadata(None)
    if layout.users.exists():  # users of other sources stay; this source's users are replaced
        old = pq.read_table(layout.users).replace_schema_metadata(None).cast(USER_SCHEMA)
        keep = pc.invert(pc.is_in(old.column("user_id"), value_set=new.column("user_id")))
        new = pa.concat_tables([old.filter(keep), new])
    return new.sort_by("user_id")


def write_mapped(layout: DataLayout, mapped: MappedTable, source: Path) -> list[date]:
    """Write every output of one ingest; returns the days written."""
    # The raw contract's full schema: payment_id (optional in the contract) is all null when unmapped.
    events = mapped.events if "payment_id" in mapped.events else mapped.events.assign(payment_id=None)
    days = sorted(set(events["ts"].dt.date))
    for day in days:
        rows = events[events["ts"].dt.date == day]
        write_partition_atomic(pa.Table.from_pandas(rows, schema=EVENT_SCHEMA, preserve_index=False),
                               layout.raw_events(day))
    for day, rows in mapped.labels.groupby("date", sort=True):
        write_partition_atomic(pa.Table.from_pandas(rows, schema=LABEL_SCHEMA, preserve_index=False),
                               layout.labels(day).parent, filename=layout.labels(day).name)
    if len(mapped.users):
        users = _merged_users(layout, mapped.users)
        write_partition_atomic(users, layout.users.parent, filename=layout.users.name)
    write_partition_atomic(mapped.quarantine.astype({"reason": "string"}), ingest_quarantine(layout, source),
                           filename=QUARANTINE_FILE)
    return days
