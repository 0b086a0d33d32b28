"""Map a source table into raw events, users and labels (pure: DataFrames in, DataFrames out).

Every source row ends in exactly one place: an event (with its user and label) or the quarantine
frame, which keeps the row's mapped source values as text plus ``source_row`` and a ``reason``
naming each problem (the column and what is wrong). Nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.ingest.mapping import ColumnRef, IngestMapping, MappingError
from tasks.synthetic.schema import EVENT_TYPES, PRICED_EVENT_TYPES

ID_SEPARATOR = "|"
_COUNTRY = r"^[A-Z]{2}$"
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class MappedTable:
    events: pd.DataFrame       # raw event columns (DESIGN.md), ts in UTC
    users: pd.DataFrame        # raw users columns
    labels: pd.DataFrame       # user_id, date, is_anomaly, anomaly_type (empty without a label mapping)
    quarantine: pd.DataFrame   # the mapped source columns as text, source_row, reason


class _Problems:
    """Per-row reasons, collected column by column."""

    def __init__(self, n: int):
        self.reasons: list[list[str]] = [[] for _ in range(n)]

    def add(self, mask: pd.Series, reason: str) -> None:
        for i in np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool)):  # a missing comparison is no problem
            self.reasons[i].append(reason)

    def bad(self) -> np.ndarray:
        return np.array([bool(r) for r in self.reasons], dtype=bool)


def _text(series: pd.Series) -> pd.Series:
    """Source values as stripped text; empty strings are missing."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _column(source: pd.DataFrame, ref: ColumnRef) -> pd.Series:
    if isinstance(ref, str):
        return _text(source[ref])
    parts = [_text(source[name]) for name in ref]
    joined = parts[0].str.cat(parts[1:], sep=ID_SEPARATOR)  # missing if any part is missing
    return joined


def _describe(ref: ColumnRef) -> str:
    return ref if isinstance(ref, str) else "+".join(ref)


def _timestamps(series: pd.Series, mapping: IngestMapping) -> pd.Series:
    """UTC timestamps; unparseable (or, in ``timezone``, nonexistent) values become NaT.

    Values with an offset (``Z``, ``+02:00``) are instants; values without one are wall-clock
    times in ``timezone``. A column may mix both.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series if series.dt.tz is not None else _localized(series, mapping.timezone)
        return parsed.dt.tz_convert("UTC").dt.as_unit("us")
    text = _text(series)
    fmt = mapping.timestamp_format or "ISO8601"
    has_offset = text.str.contains(_OFFSET, regex=True).fillna(False).astype(bool)
    instants = pd.to_datetime(text.where(has_offset), format=fmt, errors="coerce", utc=True)
    wall_clock = _localized(pd.to_datetime(text.where(~has_offset), format=fmt, errors="coerce"), mapping.timezone)
    return instants.fillna(wall_clock.dt.tz_convert("UTC")).dt.as_unit("us")


def _localized(naive: pd.Series, zone: str) -> pd.Series:
    return naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")


def check_columns(source: pd.DataFrame, mapping: IngestMapping) -> None:
    missing = [c for c in mapping.source_columns() if c not in source.columns]
    if missing:
        raise MappingError(f"the source has no column {', '.join(map(repr, missing))} "
                           f"(its columns: {', '.join(map(str, source.columns))})")


def map_table(source: pd.DataFrame, mapping: IngestMapping, source_name: str) -> MappedTable:
    """The source rows as raw events, users and labels, or quarantined with their reasons."""
    check_columns(source, mapping)
    source = source.reset_index(drop=True)
    n = len(source)
    problems = _Problems(n)
    cols = mapping.columns

    def required(ref: ColumnRef, target: str) -> pd.Series:
        values = _column(source, ref)
        problems.add(values.isna(), f"{target} missing ({_describe(ref)})")
        return values

    def optional(ref: ColumnRef | None) -> pd.Series:
        return _column(source, ref) if ref is not None else pd.Series(pd.NA, index=source.index, dtype="string")

    user_id = required(cols.user_id, "user_id")
    device_id = required(cols.device_id, "device_id")
    ip = required(cols.ip, "ip")
    ts = _timestamps(source[cols.ts], mapping)
    ts_given = _present(source[cols.ts])
    problems.add(ts.isna() & ts_given, f"ts not a timestamp{_format_hint(mapping)} ({cols.ts})")
    problems.add(~ts_given, f"ts missing ({cols.ts})")

    if mapping.shape == "orders":
        event_type = pd.Series("purchase", index=source.index, dtype="string")
    elif cols.event_type is not None:
        raw_type = _text(source[cols.event_type])
        event_type = raw_type.map(lambda v: mapping.event_types.get(v, v) if isinstance(v, str) else v).astype("string")
        if mapping.default_event_type:
            event_type = event_type.fillna(mapping.default_event_type)
        problems.add(~event_type.isin(EVENT_TYPES), f"event_type not one of the raw event types ({cols.event_type})")
    else:
        event_type = pd.Series(mapping.default_event_type, index=source.index, dtype="string")

    price = pd.to_numeric(optional(cols.price), errors="coerce").astype("float64")
    if cols.price is not None:
        problems.add(optional(cols.price).notna() & price.isna(), f"price not a number ({cols.price})")
        problems.add(price < 0, f"price negative ({cols.price})")
    problems.add(event_type.isin(PRICED_EVENT_TYPES) & price.isna() & optional(cols.price).isna(),
                 f"price missing for a priced event ({cols.price or 'no price column'})")
    quantity = pd.to_numeric(optional(cols.quantity), errors="coerce").astype("float64")
    if cols.quantity is not None:
        problems.add(quantity.notna() & ((quantity < 1) | (quantity % 1 != 0)), f"quantity not a whole number >= 1 ({cols.quantity})")
        problems.add(optional(cols.quantity).notna() & quantity.isna(), f"quantity not a number ({cols.quantity})")
    quantity = quantity.where(price.isna(), quantity.fillna(1)).where(price.notna())

    if cols.country is not None:
        country = _text(source[cols.country]).str.upper()
        if mapping.default_country:
            country = country.fillna(mapping.default_country)
        problems.add(~country.fillna("").str.match(_COUNTRY), f"country not an ISO 3166-1 alpha-2 code ({cols.country})")
    else:
        country = pd.Series(mapping.default_country, index=source.index, dtype="string")

    signup = None
    if mapping.users.signup_ts is not None:
        signup = _timestamps(source[mapping.users.signup_ts], mapping)
        problems.add(signup.isna(), f"signup_ts not a timestamp{_format_hint(mapping)} ({mapping.users.signup_ts})")
    label = _labels(source, mapping, problems)

    row = pd.Series(np.arange(n), index=source.index)
    event_id = optional(cols.event_id).fillna(source_name + "-" + row.astype("string"))
    problems.add(event_id.duplicated(keep="first"), f"event_id duplicated ({cols.event_id})")
    bad = problems.bad()
    good = ~bad

    day_key = ts.dt.strftime("%Y-%m-%d").astype("string")
    default_session = (user_id + "-" + day_key) if mapping.shape == "events" else ("order-" + event_id)
    events = pd.DataFrame({
        "event_id": event_id, "ts": ts, "user_id": user_id,
        "session_id": optional(cols.session_id).fillna(default_session),
        "event_type": event_type, "item_id": optional(cols.item_id), "category": optional(cols.category),
        "price": price.astype("float64"), "quantity": quantity.astype("Int32"),
        "device_id": device_id, "ip": ip, "country": country,
    })
    if cols.payment_id is not None:
        events["payment_id"] = optional(cols.payment_id)
    events = events[good].sort_values(["ts", "event_id"], kind="stable").reset_index(drop=True)

    quarantine = pd.DataFrame({c: _text(source[c]) for c in mapping.source_columns()})[bad]
    quarantine.insert(0, "source_row", row[bad].astype("int64"))
    quarantine["reason"] = ["; ".join(r) for r, b in zip(problems.reasons, bad, strict=True) if b]

    kept = source.index[good]
    return MappedTable(
        events=events,
        users=_users(source.loc[kept], mapping, user_id[kept], ts[kept], country[kept],
                     signup[kept] if signup is not None else None),
        labels=_label_days(user_id[kept], ts[kept], label[kept] if label is not None else None, mapping),
        quarantine=quarantine.reset_index(drop=True),
    )


def _present(series: pd.Series) -> pd.Series:
    return series.notna() if pd.api.types.is_datetime64_any_dtype(series) else _text(series).notna()


def _format_hint(mapping: IngestMapping) -> str:
    return f" in format {mapping.timestamp_format}" if mapping.timestamp_format else " in ISO 8601"


def _labels(source: pd.DataFrame, mapping: IngestMapping, problems: _Problems) -> pd.Series | None:
    if mapping.labels is None:
        return None
    values = _text(source[mapping.labels.column])
    positive = values.isin(mapping.labels.positive)
    known = positive | values.isin(mapping.labels.negative)
    problems.add(~known, f"label neither positive nor negative ({mapping.labels.column})")
    return positive


def _users(rows: pd.DataFrame, mapping: IngestMapping, user_id: pd.Series, ts: pd.Series, country: pd.Series,
           signup: pd.Series | None) -> pd.DataFrame:
    """One row per user: earliest sign-up (or first event), profile fields from the earliest row."""
    spec = mapping.users
    frame = pd.DataFrame({"user_id": user_id, "ts": ts, "country": country,
                          "signup_ts": signup if signup is not None else ts})
    if spec.birth_year is not None:
        frame["birth_year"] = pd.to_numeric(_text(rows[spec.birth_year]), errors="coerce")
    elif spec.age is not None:
        frame["birth_year"] = ts.dt.year - pd.to_numeric(_text(rows[spec.age]), errors="coerce")
    else:
        frame["birth_year"] = np.nan
    frame["gender"] = _text(rows[spec.gender]) if spec.gender else pd.NA
    frame["segment"] = _text(rows[spec.segment]) if spec.segment else pd.NA
    frame = frame.sort_values(["user_id", "ts"], kind="stable")
    first = frame.groupby("user_id", sort=True).first()
    first["signup_ts"] = frame.groupby("user_id", sort=True)["signup_ts"].min()
    users = first.reset_index()[["user_id", "signup_ts", "birth_year", "gender", "country", "segment"]]
    users["birth_year"] = users["birth_year"].round().astype("Int32")
    for name in ("gender", "segment"):
        users[name] = users[name].astype("string")
    return users


def _label_days(user_id: pd.Series, ts: pd.Series, positive: pd.Series | None, mapping: IngestMapping) -> pd.DataFrame:
    """is_anomaly per user-day: any positive row of the user that day."""
    if positive is None or mapping.labels is None:
        return pd.DataFrame({"user_id": pd.Series(dtype="string"), "date": pd.Series(dtype="object"),
                             "is_anomaly": pd.Series(dtype=bool), "anomaly_type": pd.Series(dtype="string")})
    frame = pd.DataFrame({"user_id": user_id, "date": ts.dt.date, "is_anomaly": positive.astype(bool)})
    days = frame.groupby(["user_id", "date"], sort=True, as_index=False)["is_anomaly"].any()
    days["anomaly_type"] = pd.Series(np.where(days["is_anomaly"], mapping.labels.anomaly_type, None),
                                     dtype="string")
    return days
