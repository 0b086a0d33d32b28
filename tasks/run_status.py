"""Per-day status records (reports/runs/date=D.json) that the on-call page is built from.

Each stage merges its own section; writes are atomic so a crash never leaves half a record.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from tasks.layout import DataLayout
from tasks.parquet_io import write_text_atomic


def _status_path(layout: DataLayout, day: date):
    return layout.runs / f"date={day.isoformat()}.json"


def read_day_status(layout: DataLayout, day: date) -> dict[str, Any]:
    path = _status_path(layout, day)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def update_day_status(layout: DataLayout, day: date, section: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Replace ``section`` of the day's record with ``payload`` (stamped with the time) and save."""
    record = read_day_status(layout, day)
    record["date"] = day.isoformat()
    record[section] = {**payload, "updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_text_atomic(_status_path(layout, day), json.dumps(record, indent=2, sort_keys=True, default=str))
    return record


def days_with_status(layout: DataLayout) -> list[date]:
    if not layout.runs.exists():
        return []
    return sorted(date.fromisoformat(p.stem[5:]) for p in layout.runs.glob("date=*.json"))
