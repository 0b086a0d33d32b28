"""Turn planned sessions into time-ordered events, vectorised over all sessions at once.

A planner says, per session, how many events of each type happen (``SessionPlan.counts``), when
the session roughly starts and where it comes from. ``expand_sessions`` lays the events out in
funnel order (a cart add follows its view, a removal follows its add, checkout follows the
cart, a purchase follows checkout), gives them think-time gaps and absolute timestamps inside
the day, and fills items, prices and quantities consistently (a purchase buys what was carted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from tasks.synthetic.catalogue import Catalogue
from tasks.synthetic.schema import (
    CART,
    CHECKOUT,
    COUPON,
    FAILED,
    N_EVENT_TYPES,
    PURCHASE,
    REMOVE,
    REVIEW,
    SEARCH,
    VIEW,
)

SECONDS_PER_DAY = 86_400.0
# The latest an event may happen, in seconds after midnight (keeps ts strictly inside the day).
LAST_SECOND = SECONDS_PER_DAY - 0.01
# Funnel phase of each event type: events of a lower phase come first within a session.
_PHASE = np.zeros(N_EVENT_TYPES, dtype=np.int8)
_PHASE[[SEARCH, VIEW, CART, REMOVE, REVIEW]] = 1
_PHASE[COUPON], _PHASE[CHECKOUT], _PHASE[FAILED], _PHASE[PURCHASE] = 2, 3, 3, 4
_PHASE_REVIEW_AFTER_PURCHASE = 5

ItemPicker = Callable[[np.random.Generator, np.ndarray], np.ndarray]
"""(rng, session index per wanted item) -> catalogue item index per wanted item."""


@dataclass
class SessionPlan:
    user: np.ndarray          # int64 user index, one per session
    counts: np.ndarray        # int64 (sessions, N_EVENT_TYPES)
    start_s: np.ndarray       # preferred start, seconds after midnight UTC
    earliest_s: np.ndarray    # nothing may happen before this (signup time on the signup day)
    think_time_s: np.ndarray  # median gap between events
    device: np.ndarray        # int64 device number
    ip: np.ndarray            # uint32 address
    country: np.ndarray       # int16 index into geography.COUNTRIES
    payment: np.ndarray       # int64 card number used at checkout, -1: none

    def __len__(self) -> int:
        return len(self.user)


@dataclass
class SessionGroup:
    """Sessions that share an item picker and timing style (normal users, or one anomaly kind)."""

    plan: SessionPlan
    pick_items: ItemPicker
    gap_sigma: float = 0.9
    reviews_follow_purchases: bool = False


@dataclass
class EventBlock:
    """Events as parallel numpy columns; ids and strings are added when writing (tasks.synthetic.table)."""

    user: np.ndarray
    session: np.ndarray   # session number within the block
    event_type: np.ndarray
    item: np.ndarray      # -1: none
    category: np.ndarray  # -1: none
    price: np.ndarray     # nan: none
    quantity: np.ndarray  # 0: none
    ts_us: np.ndarray     # microseconds since the epoch, UTC
    device: np.ndarray
    ip: np.ndarray
    country: np.ndarray
    payment: np.ndarray   # card number on checkout, payment_failed and purchase events, -1: none
    n_sessions: int

    def __len__(self) -> int:
        return len(self.ts_us)

    @classmethod
    def concat(cls, blocks: list[EventBlock]) -> EventBlock:
        session_offsets = np.cumsum([0] + [b.n_sessions for b in blocks])
        columns = {
            f.name: np.concatenate([getattr(b, f.name) for b in blocks])
            for f in fields(cls) if f.name not in ("session", "n_sessions")
        }
        columns["session"] = np.concatenate([b.session + off for b, off in zip(blocks, session_offsets[:-1], strict=True)])
        return cls(**columns, n_sessions=int(session_offsets[-1]))


def consistent_counts(counts: np.ndarray, reviews_follow_purchases: bool) -> np.ndarray:
    """Clamp counts so the funnel is possible: carts come from views, purchases from kept carts."""
    c = counts.astype(np.int64, copy=True)
    c[:, CART] = np.minimum(c[:, CART], c[:, VIEW])
    c[:, REMOVE] = np.minimum(c[:, REMOVE], c[:, CART])
    kept = c[:, CART] - c[:, REMOVE]
    c[kept == 0, CHECKOUT] = 0
    c[:, FAILED] = np.minimum(c[:, FAILED], c[:, CHECKOUT])
    c[c[:, CHECKOUT] == 0, PURCHASE] = 0
    c[:, PURCHASE] = np.minimum(c[:, PURCHASE], kept)
    if reviews_follow_purchases:
        c[:, REVIEW] = np.minimum(c[:, REVIEW], c[:, PURCHASE])
    return c


def expand_sessions(group: SessionGroup, rng: np.random.Generator, catalogue: Catalogue,
                    day_start_us: int) -> EventBlock:
    plan = group.plan
    counts = consistent_counts(plan.counts, group.reviews_follow_purchases)
    n_sessions = len(plan)
    per_session = counts.sum(axis=1)
    first = np.cumsum(per_session) - per_session
    session = np.repeat(np.arange(n_sessions), per_session)
    position = np.arange(len(session)) - first[session]

    # Canonical block layout: all logins, then searches, views, ... in EVENT_TYPES order.
    block_end = np.cumsum(counts, axis=1)
    block_start = block_end - counts
    event_type = np.zeros(len(session), dtype=np.int8)
    for t in range(N_EVENT_TYPES - 1):
        event_type += position >= block_end[session, t]
    k = position - block_start[session, event_type]  # rank within its type in the session

    def index_of(mask: np.ndarray, source_type: int, rank: np.ndarray) -> np.ndarray:
        s = session[mask]
        return first[s] + block_start[s, source_type] + rank

    item = np.full(len(session), -1, dtype=np.int64)
    is_view = event_type == VIEW
    item[is_view] = group.pick_items(rng, session[is_view])
    is_cart = event_type == CART
    cart_view = index_of(is_cart, VIEW, k[is_cart])
    item[is_cart] = item[cart_view]
    quantity = np.zeros(len(session), dtype=np.int32)
    quantity[is_view] = 1
    n_cart = int(is_cart.sum())
    quantity[is_cart] = 1 + (rng.random(n_cart) < 0.15) * rng.integers(1, 3, n_cart)
    is_remove = event_type == REMOVE
    remove_cart = index_of(is_remove, CART, k[is_remove])
    item[is_remove], quantity[is_remove] = item[remove_cart], quantity[remove_cart]
    is_purchase = event_type == PURCHASE
    purchase_cart = index_of(is_purchase, CART, counts[session[is_purchase], REMOVE] + k[is_purchase])
    item[is_purchase], quantity[is_purchase] = item[purchase_cart], quantity[purchase_cart]
    is_review = event_type == REVIEW
    if group.reviews_follow_purchases:
        item[is_review] = item[index_of(is_review, PURCHASE, k[is_review])]
    else:
        item[is_review] = group.pick_items(rng, session[is_review])

    has_item = item >= 0
    category = np.full(len(session), -1, dtype=np.int16)
    category[has_item] = catalogue.category[item[has_item]]
    is_search = event_type == SEARCH
    searched = group.pick_items(rng, session[is_search])
    category[is_search] = np.where(rng.random(len(searched)) < 0.5, catalogue.category[searched], -1)

    price = np.full(len(session), np.nan)
    priced_item = is_view | is_cart | is_remove | is_purchase
    price[priced_item] = catalogue.price[item[priced_item]]
    # Checkout and payment attempts carry the order: the carts that were not removed again.
    kept_cart = is_cart & (k >= counts[session, REMOVE])
    order_total = np.bincount(session[kept_cart], weights=price[kept_cart] * quantity[kept_cart], minlength=n_sessions)
    order_units = np.bincount(session[kept_cart], weights=quantity[kept_cart], minlength=n_sessions)
    is_order = (event_type == CHECKOUT) | (event_type == FAILED)
    price[is_order] = np.round(order_total[session[is_order]], 2)
    quantity[is_order] = order_units[session[is_order]].astype(np.int32)

    # Order inside a session: by funnel phase, then a key that keeps adds after their views.
    phase = _PHASE[event_type]
    if group.reviews_follow_purchases:
        phase = np.where(is_review, _PHASE_REVIEW_AFTER_PURCHASE, phase)
    key = rng.random(len(session))
    key[is_cart] = key[cart_view] + (1 - key[cart_view]) * key[is_cart] * 0.5
    key[is_remove] = key[remove_cart] + (1 - key[remove_cart]) * key[is_remove]
    attempt = (event_type == CHECKOUT) | (event_type == FAILED)
    key[attempt] = 2 * k[attempt] + (event_type[attempt] == FAILED)  # checkout, failed, checkout, ...
    key[is_purchase] = k[is_purchase]
    order = np.lexsort((key, phase, session))
    session, event_type, item, category = session[order], event_type[order], item[order], category[order]
    price, quantity = price[order], quantity[order]

    # Think time between consecutive events of a session; the first event starts the session.
    gaps = rng.lognormal(np.log(plan.think_time_s[session]), group.gap_sigma)
    gaps[first[per_session > 0]] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[first[session]]
    duration = np.zeros(n_sessions)
    nonempty = per_session > 0
    duration[nonempty] = elapsed[first[nonempty] + per_session[nonempty] - 1]
    too_long = duration > 0.9 * SECONDS_PER_DAY
    if too_long.any():  # squeeze the rare session that would not fit in a day
        squeeze = np.where(too_long, 0.9 * SECONDS_PER_DAY / np.maximum(duration, 1e-9), 1.0)
        elapsed *= squeeze[session]
        duration *= squeeze
    start = np.minimum(np.maximum(plan.start_s, plan.earliest_s), LAST_SECOND - duration)
    seconds = np.clip(start[session] + elapsed, 0.0, LAST_SECOND)
    ts_us = day_start_us + np.round(seconds * 1e6).astype(np.int64)
    pays = (event_type == CHECKOUT) | (event_type == FAILED) | (event_type == PURCHASE)

    return EventBlock(
        user=plan.user[session], session=session, event_type=event_type, item=item, category=category,
        price=price, quantity=quantity, ts_us=ts_us, device=plan.device[session], ip=plan.ip[session],
        country=plan.country[session], payment=np.where(pays, plan.payment[session], -1), n_sessions=n_sessions,
    )
