"""`shopguard ingest --source T --mapping M`: a user's own table into the raw contract."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import flow

from tasks.ingest.steps import (
    IngestResult,
    ingest_result,
    load_mapping_task,
    map_source_task,
    write_ingested_task,
)
from tasks.layout import DataLayout
from tasks.settings import Settings

log = logging.getLogger(__name__)


@flow(name="ingest", flow_run_name="ingest-{source.name}")
def ingest_flow(source: Path, mapping: Path, settings: Settings) -> IngestResult:
    """Map ``source`` through ``mapping`` into raw/ (events, users, labels); unmappable rows are quarantined."""
    layout = DataLayout(settings.data_dir)
    rules = load_mapping_task(mapping)
    mapped = map_source_task(source, rules)
    days = write_ingested_task(layout, mapped, source)
    result = ingest_result(source, mapped, days, layout)
    log.info(result.one_line())
    return result
