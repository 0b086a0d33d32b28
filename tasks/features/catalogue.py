"""The feature catalogue: every column of features/date=D/part-0.parquet, described once.

The README, the detectors' explanations, the GX feature suite and the drift report all read this
list, so a feature's name, group and meaning live in one place. Bump ``FEATURE_SCHEMA_VERSION``
whenever a column is added, removed, renamed or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

FEATURE_SCHEMA_VERSION = "2"  # 2: entity features (payment instruments, window velocity, log minutes to purchase)
SCHEMA_VERSION_KEY = b"shopguard.feature_schema_version"

Group = Literal["key", "sequence", "profile", "pattern", "context"]
GROUPS: tuple[str, ...] = ("sequence", "profile", "pattern", "context")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    group: Group
    dtype: str  # pyarrow type name: "string", "date32", "float64"
    description: str
    model_input: bool = True


def _f(name: str, group: Group, description: str) -> FeatureSpec:
    return FeatureSpec(name, group, "float64", description)


KEY_COLUMNS: tuple[FeatureSpec, ...] = (
    FeatureSpec("user_id", "key", "string", "The user.", model_input=False),
    FeatureSpec("date", "key", "date32", "The day (UTC) the row describes.", model_input=False),
)

FEATURE_CATALOGUE: tuple[FeatureSpec, ...] = (
    # --- behaviour sequence: how the day's events unfold in time -----------------------------
    _f("n_events", "sequence", "Events on the day."),
    _f("n_logins", "sequence", "Login events on the day."),
    _f("n_views", "sequence", "Item views on the day."),
    _f("n_searches", "sequence", "Searches on the day."),
    _f("n_cart_adds", "sequence", "Add-to-cart events on the day."),
    _f("n_purchases", "sequence", "Purchase events on the day."),
    _f("n_sessions", "sequence", "Distinct sessions on the day."),
    _f("events_per_session", "sequence", "Events per session (mean)."),
    _f("gap_mean_s", "sequence", "Mean seconds between consecutive events (0 with fewer than 2 events)."),
    _f("gap_std_s", "sequence", "Standard deviation of seconds between consecutive events (0 with fewer than 3 events)."),
    _f("gap_min_s", "sequence", "Shortest gap in seconds between consecutive events (0 with fewer than 2 events)."),
    _f("gap_share_under_1s", "sequence", "Share of gaps between consecutive events shorter than 1 second."),
    _f("dwell_per_view_s", "sequence", "Mean seconds from a view to the next event in the same session (0 when no view has one)."),
    _f("path_length_to_purchase", "sequence", "Mean events in a session before its first purchase (0 without purchases)."),
    _f("burstiness", "sequence", "Gap burstiness (std - mean) / (std + mean): -1 clockwork, 0 random, near 1 bursty."),
    # --- user profile ------------------------------------------------------------------------
    _f("account_age_days", "profile", "Days from signup to the end of the day."),
    _f("days_signup_to_first_purchase", "profile",
       "Days from signup to the first purchase seen in the trailing window (account age when none)."),
    _f("log_minutes_signup_to_first_purchase", "profile",
       "ln(1 + minutes from signup to the first purchase seen in the trailing window); account age when none."),
    _f("age_band", "profile", "Age band on the day: 1 under 25, 2 25-34, 3 35-44, 4 45-54, 5 55+, 0 unknown."),
    FeatureSpec("segment", "profile", "string", "Customer segment from the profile (descriptive).", model_input=False),
    FeatureSpec("country", "profile", "string", "Profile country, ISO 3166-1 alpha-2 (descriptive).", model_input=False),
    # --- behaviour pattern: what the user does ------------------------------------------------
    _f("view_to_cart_ratio", "pattern", "Add-to-cart events per view (views floored at 1)."),
    _f("cart_to_purchase_ratio", "pattern", "Purchases per add-to-cart (adds floored at 1)."),
    _f("spend_sum", "pattern", "Money spent on purchases (price x quantity)."),
    _f("spend_max", "pattern", "Largest single purchase (price x quantity)."),
    _f("spend_log_ratio_to_median", "pattern",
       "log(1 + spend) - log(1 + the user's median daily spend over the trailing window's earlier days); 0 without history."),
    _f("distinct_items", "pattern", "Distinct items touched."),
    _f("distinct_categories", "pattern", "Distinct categories touched."),
    _f("n_reviews", "pattern", "Reviews written."),
    _f("reviews_per_purchase", "pattern", "Reviews per purchase (purchases floored at 1)."),
    _f("n_coupon_applies", "pattern", "Coupon applications."),
    _f("payment_failure_rate", "pattern", "Failed payments / (failed payments + purchases); 0 with neither."),
    _f("night_share", "pattern", "Share of events between 00:00 and 06:00 UTC."),
    _f("events_zscore", "pattern",
       "Events against the user's earlier active days in the window: (x - mean) / std, std floored at 1; 0 with under 2 such days."),
    _f("spend_zscore", "pattern", "Spend against the user's earlier active days in the window, as a z-score (std floored at 1)."),
    _f("sessions_zscore", "pattern", "Sessions against the user's earlier active days in the window, as a z-score (std floored at 1)."),
    # --- context: devices, networks and the platform around the user --------------------------
    _f("distinct_devices", "context", "Distinct devices used."),
    _f("distinct_ips", "context", "Distinct IP addresses used."),
    _f("distinct_countries", "context", "Distinct countries the events came from."),
    _f("new_devices", "context", "Devices not used by the user on the window's earlier days (all are new without history)."),
    _f("new_ips", "context", "IP addresses not used by the user on the window's earlier days."),
    _f("new_countries", "context", "Countries not seen for the user on the window's earlier days."),
    _f("foreign_country_share", "context", "Share of events from a country other than the profile country."),
    _f("device_shared_users", "context",
       "Most other users seen on any one of the user's devices over the trailing window up to the day."),
    _f("ip_shared_users", "context", "Most other users seen on any one of the user's IP addresses over the trailing window up to the day."),
    _f("distinct_payments", "context",
       "Distinct payment instruments (raw payment_id, a hashed card token) used on the day; 0 without the column."),
    _f("payment_shared_users", "context",
       "Most other users seen on any one of the user's payment instruments over the trailing window up to the day; 0 without payment_id."),
    _f("distinct_devices_window", "context",
       "Distinct devices the user used over the trailing window up to the day (how fast the account collects devices)."),
    _f("distinct_ips_window", "context",
       "Distinct IP addresses the user used over the trailing window up to the day (how fast the account collects IPs)."),
    # The same value for every user of a day: as a model input it would make a whole busy day
    # look anomalous, so it is context for reports (and the drift report), not for detectors.
    FeatureSpec("platform_volume_ratio", "context", "float64",
                "The platform's events on the day / its median daily events over the window's earlier days "
                "(1 without history); one value per day, shown for context, not a model input.",
                model_input=False),
    _f("activity_vs_platform", "context", "The user's events / the platform's mean events per active user that day."),
)


def all_columns() -> tuple[FeatureSpec, ...]:
    """Keys first, then the catalogue, in the stored column order."""
    return KEY_COLUMNS + FEATURE_CATALOGUE


def model_feature_names() -> list[str]:
    """Numeric float64 columns the detectors learn from, in a stable order."""
    return [spec.name for spec in FEATURE_CATALOGUE if spec.model_input]


def feature_spec(name: str) -> FeatureSpec:
    for spec in all_columns():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown feature: {name!r}")


def features_in_group(group: str) -> list[str]:
    if group not in GROUPS:
        raise KeyError(f"unknown feature group: {group!r} (one of {', '.join(GROUPS)})")
    return [spec.name for spec in FEATURE_CATALOGUE if spec.group == group]


_ARROW_TYPES = {"string": pa.string(), "date32": pa.date32(), "float64": pa.float64()}


def feature_schema() -> pa.Schema:
    """The explicit pyarrow schema of a feature partition, schema version in its metadata."""
    fields = [pa.field(spec.name, _ARROW_TYPES[spec.dtype], nullable=not spec.model_input and spec.group != "key")
              for spec in all_columns()]
    return pa.schema(fields, metadata={SCHEMA_VERSION_KEY: FEATURE_SCHEMA_VERSION.encode()})


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table (for the README and reports)."""
    lines = ["| feature | group | model input | description |", "|---|---|---|---|"]
    for spec in FEATURE_CATALOGUE:
        lines.append(f"| `{spec.name}` | {spec.group} | {'yes' if spec.model_input else 'no'} | {spec.description} |")
    return "\n".join(lines)
