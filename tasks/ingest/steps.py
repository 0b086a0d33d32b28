"""Prefect tasks of `shopguard ingest` and its one typed result."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from tasks.errors import ShopguardError
from tasks.ingest.mapping import IngestMapping, load_mapping
from tasks.ingest.store import ingest_quarantine, read_source, write_mapped
from tasks.ingest.transform import MappedTable, map_table
from tasks.layout import DataLayout


class IngestResult(BaseModel):
    source: Path
    rows_in: int
    events: int
    users: int
    labelled_user_days: int
    anomalous_user_days: int
    days: list[date]
    rows_quarantined: int
    quarantine: Path
    quarantine_reasons: dict[str, int] = Field(default_factory=dict, description="reason -> rows")

    def one_line(self) -> str:
        span = f"{self.days[0]}..{self.days[-1]}" if self.days else "no days"
        line = (f"ingested {self.rows_in} rows of {self.source.name}: {self.events} events over "
                f"{len(self.days)} days ({span}), {self.users} users, {self.labelled_user_days} labelled "
                f"user-days ({self.anomalous_user_days} anomalous); {self.rows_quarantined} rows quarantined")
        if self.rows_quarantined:
            top = ", ".join(f"{reason} {count}" for reason, count in list(self.quarantine_reasons.items())[:3])
            line += f" ({top}) in {self.quarantine}"
        return line


@task(name="load-ingest-mapping", cache_policy=NO_CACHE)
def load_mapping_task(path: Path) -> IngestMapping:
    return load_mapping(path)


@task(name="map-source-table", cache_policy=NO_CACHE)
def map_source_task(source: Path, mapping: IngestMapping) -> MappedTable:
    return map_table(read_source(source), mapping, source_name=Path(source).stem)


@task(name="write-ingested", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def write_ingested_task(layout: DataLayout, mapped: MappedTable, source: Path) -> list[date]:
    return write_mapped(layout, mapped, source)


def ingest_result(source: Path, mapped: MappedTable, days: list[date], layout: DataLayout) -> IngestResult:
    reasons = Counter(r for joined in mapped.quarantine["reason"] for r in joined.split("; "))
    result = IngestResult(
        source=source, rows_in=len(mapped.events) + len(mapped.quarantine), events=len(mapped.events),
        users=len(mapped.users), labelled_user_days=len(mapped.labels),
        anomalous_user_days=int(mapped.labels["is_anomaly"].sum()), days=days,
        rows_quarantined=len(mapped.quarantine), quarantine=ingest_quarantine(layout, source),
        quarantine_reasons=dict(reasons.most_common()),
    )
    if not result.events:
        raise ShopguardError(f"no row of {source.name} could be mapped ({result.rows_quarantined} quarantined; "
                             f"first reason: {next(iter(result.quarantine_reasons), 'the table is empty')}); "
                             f"see {result.quarantine}")
    return result
