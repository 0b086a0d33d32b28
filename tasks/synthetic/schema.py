"""The raw data contract (DESIGN.md) as Arrow schemas, plus the event-type vocabulary."""

from __future__ import annotations

import pyarrow as pa

# Order matters: it is also the canonical block order of a session before events are shuffled
# into time order (see tasks.synthetic.sessions).
EVENT_TYPES: tuple[str, ...] = (
    "login", "search", "view", "add_to_cart", "remove_from_cart",
    "coupon_apply", "checkout", "payment_failed", "purchase", "review",
)
LOGIN, SEARCH, VIEW, CART, REMOVE, COUPON, CHECKOUT, FAILED, PURCHASE, REVIEW = range(len(EVENT_TYPES))
N_EVENT_TYPES = len(EVENT_TYPES)

# Event types whose price must be set (DESIGN.md).
PRICED_EVENT_TYPES: frozenset[str] = frozenset({"add_to_cart", "checkout", "purchase", "payment_failed"})

ANOMALY_KINDS: tuple[str, ...] = (
    "scraper_bot", "card_testing", "account_takeover", "click_fraud", "fake_reviews", "coupon_abuse",
)

TIMESTAMP = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema([
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("ts", TIMESTAMP, nullable=False),
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("item_id", pa.string()),
    pa.field("category", pa.string()),
    pa.field("price", pa.float64()),
    pa.field("quantity", pa.int32()),
    pa.field("device_id", pa.string(), nullable=False),
    pa.field("ip", pa.string(), nullable=False),
    pa.field("country", pa.string(), nullable=False),
    # Optional in the contract: a hashed card token on checkout, purchase and payment_failed events.
    pa.field("payment_id", pa.string()),
])
# Event types that carry the payment instrument.
PAYMENT_EVENT_TYPES: frozenset[str] = frozenset({"checkout", "purchase", "payment_failed"})

USER_SCHEMA = pa.schema([
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("signup_ts", TIMESTAMP, nullable=False),
    pa.field("birth_year", pa.int32()),
    pa.field("gender", pa.string()),
    pa.field("country", pa.string(), nullable=False),
    pa.field("segment", pa.string()),
])

LABEL_SCHEMA = pa.schema([
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("date", pa.date32(), nullable=False),
    pa.field("is_anomaly", pa.bool_(), nullable=False),
    pa.field("anomaly_type", pa.string()),
])
