"""Numeric event columns -> an Arrow table that follows the raw events contract."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from tasks.synthetic.catalogue import CATEGORIES, Catalogue
from tasks.synthetic.geography import COUNTRIES
from tasks.synthetic.ids import dotted_quads, numbered
from tasks.synthetic.schema import EVENT_SCHEMA, EVENT_TYPES, TIMESTAMP
from tasks.synthetic.sessions import EventBlock

_EVENT_TYPE_NAMES = pa.array(EVENT_TYPES)
_CATEGORY_NAMES = pa.array(CATEGORIES)
_COUNTRY_NAMES = pa.array(COUNTRIES)


_TOKEN_DIGITS = 16


def payment_tokens(cards: np.ndarray) -> np.ndarray:
    """A stable hashed token per card number (a splitmix64 finaliser), as a PSP would hand out."""
    x = np.asarray(cards, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x % np.uint64(10**_TOKEN_DIGITS)).astype(np.int64)


def _payment_ids(payment: np.ndarray) -> pa.Array:
    """``pm-<token>`` where a card was used, null elsewhere (tokens made only for the paying rows)."""
    paid = payment >= 0
    tokens = numbered("pm-", payment_tokens(payment[paid]), _TOKEN_DIGITS)
    return tokens.take(pa.array(np.cumsum(paid) - 1, mask=~paid))


def events_table(block: EventBlock, day: date, part: int, user_ids: pa.Array, catalogue: Catalogue) -> pa.Table:
    """Events of one part file, in time order. Ids are unique across days and parts."""
    order = np.argsort(block.ts_us, kind="stable")
    stamp = day.strftime("%Y%m%d")
    item = block.item[order]
    category = block.category[order]
    price = block.price[order]
    quantity = block.quantity[order]
    return pa.table({
        "event_id": numbered(f"ev-{stamp}-{part:04d}-", np.arange(len(order)), 9),
        "ts": pa.array(block.ts_us[order], type=TIMESTAMP),
        "user_id": user_ids.take(pa.array(block.user[order])),
        "session_id": numbered(f"s-{stamp}-{part:04d}-", block.session[order], 8),
        "event_type": _EVENT_TYPE_NAMES.take(pa.array(block.event_type[order])),
        "item_id": catalogue.item_ids.take(pa.array(item, mask=item < 0)),
        "category": _CATEGORY_NAMES.take(pa.array(category, mask=category < 0)),
        "price": pa.array(price, mask=np.isnan(price), type=pa.float64()),
        "quantity": pa.array(quantity, mask=quantity == 0, type=pa.int32()),
        "device_id": numbered("dev-", block.device[order], 12),
        "ip": dotted_quads(block.ip[order]),
        "country": _COUNTRY_NAMES.take(pa.array(block.country[order])),
        "payment_id": _payment_ids(block.payment[order]),
    }, schema=EVENT_SCHEMA)
