"""The declarative mapping file (TOML) that says how a source table becomes raw events.

One row per event (``shape = "events"``) or one row per order (``shape = "orders"``: each row
becomes one purchase event). A column reference is a column name, or a list of names joined with
``|`` into one identifier (an ad-click log has no user id: ip + device + os is the usual stand-in).
See infra/ingest/*.toml for two complete examples.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasks.errors import ShopguardError
from tasks.synthetic.schema import EVENT_TYPES

ColumnRef = str | list[str]


class MappingError(ShopguardError):
    """The mapping file is missing, malformed, or does not fit the source table."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """Raw-contract column <- source column(s)."""

    user_id: ColumnRef
    ts: str = Field(description="event time; for orders the purchase time")
    device_id: ColumnRef
    ip: ColumnRef
    event_type: str | None = None
    event_id: str | None = None
    session_id: ColumnRef | None = None
    item_id: ColumnRef | None = None
    category: ColumnRef | None = None
    price: str | None = None
    quantity: str | None = None
    country: str | None = None
    payment_id: ColumnRef | None = None


class UserMap(_Strict):
    signup_ts: str | None = Field(None, description="sign-up time column; the user's first event when absent")
    age: str | None = Field(None, description="age in years at the event; turned into a birth year")
    birth_year: str | None = None
    gender: str | None = None
    segment: str | None = None


class LabelMap(_Strict):
    column: str
    positive: list[str] = ["1", "true", "True", "TRUE", "yes"]
    negative: list[str] = ["0", "false", "False", "FALSE", "no"]
    anomaly_type: str | None = Field(None, description="anomaly_type written for positive user-days")


class IngestMapping(_Strict):
    shape: Literal["events", "orders"]
    timestamp_format: str | None = Field(None, description="strptime format; ISO 8601 when absent")
    timezone: str = Field("UTC", description="zone of timestamps that carry no offset")
    columns: ColumnMap
    users: UserMap = UserMap()
    labels: LabelMap | None = None
    default_country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="when there is no country column")
    default_event_type: str | None = Field(None, description="events shape without an event_type column")
    event_types: dict[str, str] = Field(default_factory=dict, description="source value -> raw event type")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _complete(self) -> IngestMapping:
        if self.columns.country is None and self.default_country is None:
            raise ValueError("set columns.country or default_country")
        if self.shape == "orders" and self.columns.price is None:
            raise ValueError("an orders table needs columns.price (the order value)")
        if self.shape == "events" and self.columns.event_type is None and self.default_event_type is None:
            raise ValueError("an events table needs columns.event_type or default_event_type")
        unknown = sorted({v for v in [*self.event_types.values(), self.default_event_type] if v} - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"not raw event types: {', '.join(unknown)} (one of {', '.join(EVENT_TYPES)})")
        return self

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads, in a stable order."""
        refs: list[ColumnRef | None] = [*self.columns.model_dump().values(), *self.users.model_dump().values(),
                                        self.labels.column if self.labels else None]
        names: list[str] = []
        for ref in refs:
            names += [ref] if isinstance(ref, str) else (ref or [])
        return list(dict.fromkeys(names))


def load_mapping(path: Path) -> IngestMapping:
    """Read and check a mapping file; any problem is one line naming the file and the field."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping {path} is not valid TOML: {exc}") from None
    try:
        return IngestMapping.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"mapping {path}: {problems}") from None
