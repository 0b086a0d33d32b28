"""What a synthetic world is made of (WorldConfig) and what generating it produced (summaries)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.errors import ShopguardError


class InvalidWorldConfig(ShopguardError):
    """A generate option is out of range (one line naming the option)."""


Difficulty = Literal["easy", "realistic", "hard"]


class WorldConfig(BaseModel):
    """Parameters of one synthetic world. The same config always gives byte-identical files."""

    model_config = ConfigDict(frozen=True)

    start: date = Field(description="First day of events.")
    days: int = Field(14, ge=1, le=3660, description="Number of consecutive days.")
    users: int = Field(5000, ge=10, description="Registered users (raised if events_per_day needs more).")
    seed: int = Field(7, ge=0, description="Random seed; each (seed, day) has its own stream.")
    promotion_day: date | None = Field(None, description="A day of promotion-driven behaviour shift.")
    anomaly_share: float = Field(0.02, ge=0, le=0.5, description="Target share of anomalous active user-days.")
    events_per_day: int | None = Field(None, ge=1, description="Scale the volume to about this many events a day.")
    chunk_users: int = Field(25_000, ge=1, description="Users per streamed part file (bounds memory).")
    difficulty: Difficulty = Field("realistic", description=(
        "easy: every bad actor is blatant; realistic: most hide within human ranges, among benign look-alikes; "
        "hard: nearly all do."))

    @model_validator(mode="after")
    def _promotion_inside_world(self) -> WorldConfig:
        if self.promotion_day is not None and not self.start <= self.promotion_day <= self.end:
            raise ValueError(f"promotion_day {self.promotion_day} is outside {self.start}..{self.end}")
        return self

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @classmethod
    def checked(cls, **values: object) -> WorldConfig:
        """Build a config, turning pydantic's multi-line error into one ShopguardError line."""
        try:
            return cls(**values)
        except ValidationError as exc:
            detail = "; ".join(
                ": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, "))))
                for e in exc.errors()
            )
            raise InvalidWorldConfig(f"invalid world: {detail}") from None


class DaySummary(BaseModel):
    day: date
    events: int
    active_users: int
    anomalous_users: int
    anomalous_by_kind: dict[str, int]
    part_files: int
    promotion: bool = False


class GenerationSummary(BaseModel):
    users: int = Field(description="Users written to users.parquet (after any events_per_day scaling).")
    days: list[DaySummary]

    @property
    def total_events(self) -> int:
        return sum(d.events for d in self.days)

    def table(self) -> str:
        """A small fixed-width table for the CLI's closing output."""
        kinds = sorted({k for d in self.days for k in d.anomalous_by_kind})
        header = f"{'date':<10} {'events':>10} {'active':>8} {'anomalous':>9}  " + " ".join(kinds)
        lines = [header]
        for d in self.days:
            by_kind = " ".join(f"{d.anomalous_by_kind.get(k, 0):>{len(k)}}" for k in kinds)
            mark = " promotion" if d.promotion else ""
            lines.append(f"{d.day.isoformat():<10} {d.events:>10} {d.active_users:>8} {d.anomalous_users:>9}  {by_kind}{mark}")
        lines.append(f"{self.users} users, {self.total_events} events over {len(self.days)} days")
        return "\n".join(lines)
