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
    }, schema=EVENT_SCHEMA)
