"""Where everything lives under the data root (DESIGN.md's layout), in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path


def partition(day: date) -> str:
    return f"date={day.isoformat()}"


@dataclass(frozen=True)
class DataLayout:
    root: Path

    # raw (never modified by shopguard after generation)
    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def raw_events(self, day: date) -> Path:
        return self.raw / "events" / partition(day)

    @property
    def users(self) -> Path:
        return self.raw / "users" / "users.parquet"

    def labels(self, day: date) -> Path:
        return self.raw / "labels" / partition(day) / "labels.parquet"

    # derived stages, one partition per day
    def validated(self, day: date) -> Path:
        return self.root / "validated" / partition(day)

    def quarantine(self, day: date) -> Path:
        return self.root / "quarantine" / partition(day)

    def features(self, day: date) -> Path:
        return self.root / "features" / partition(day)

    def feature_state(self, day: date) -> Path:
        """Cached per-day summaries that history features read instead of rescanning raw events."""
        return self.root / "features_state" / partition(day)

    def scores(self, day: date) -> Path:
        return self.root / "scores" / partition(day)

    def alerts(self, day: date) -> Path:
        return self.root / "alerts" / partition(day)

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def drift_report(self, day: date) -> Path:
        return self.reports / "drift" / partition(day)

    @property
    def data_docs(self) -> Path:
        return self.reports / "data_docs"

    @property
    def oncall_index(self) -> Path:
        return self.reports / "index.html"

    @property
    def runs(self) -> Path:
        """Per-day status records (JSON) that the on-call page is built from."""
        return self.reports / "runs"

    @property
    def state(self) -> Path:
        """Small bookkeeping files (e.g. the last drift retrain, for the cooldown)."""
        return self.root / "state"

    def volume_record(self, day: date) -> Path:
        """The row count validation saw for the day, and whether it was inside the volume band."""
        return self.state / "volume" / f"{partition(day)}.json"

    @property
    def locks(self) -> Path:
        """flock files that keep concurrent commands on one data root apart (see tasks/locks.py)."""
        return self.state / "locks"

    def days_with(self, stage: str) -> list[date]:
        """Days that have a partition under ``stage`` (e.g. "raw/events", "features")."""
        base = self.root / stage
        if not base.exists():
            return []
        days = []
        for child in base.iterdir():
            if child.is_dir() and child.name.startswith("date="):
                try:
                    days.append(date.fromisoformat(child.name[5:]))
                except ValueError:
                    continue
        return sorted(days)
