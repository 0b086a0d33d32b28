"""Habits of normal customers: segments, daily rhythm, weekday and promotion effects."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np


@dataclass(frozen=True)
class Habits:
    """How one customer segment shops. Rates are per active day, per session or per view."""

    name: str
    share: float            # share of registered users
    p_active: float         # chance to visit on a given day
    sessions_mean: float    # sessions per active day (at least one)
    searches_mean: float    # searches per session
    views_mean: float       # item views per session (at least one)
    p_cart: float           # a viewed item is added to the cart
    p_remove: float         # a cart item is removed again
    p_checkout: float       # a session with a non-empty cart checks out
    p_coupon: float         # a checkout uses a coupon
    p_review: float         # a session writes a review of an earlier purchase
    think_time_s: float     # median seconds between events


SEGMENTS: tuple[Habits, ...] = (
    Habits("casual_browser", 0.40, 0.22, 1.3, 1.0, 5.0, 0.05, 0.25, 0.35, 0.03, 0.01, 28.0),
    Habits("regular_buyer", 0.25, 0.40, 1.6, 1.2, 6.0, 0.14, 0.15, 0.60, 0.06, 0.06, 22.0),
    Habits("bargain_hunter", 0.15, 0.42, 2.0, 2.5, 9.0, 0.10, 0.35, 0.40, 0.40, 0.03, 18.0),
    Habits("power_user", 0.08, 0.80, 3.0, 2.0, 10.0, 0.18, 0.20, 0.70, 0.10, 0.08, 14.0),
    Habits("new_user", 0.12, 0.45, 1.5, 1.5, 6.0, 0.08, 0.20, 0.40, 0.30, 0.01, 30.0),
)
SEGMENT_NAMES: tuple[str, ...] = tuple(h.name for h in SEGMENTS)
NEW_USER = SEGMENT_NAMES.index("new_user")


def habit_column(name: str) -> np.ndarray:
    """One habit across segments, indexable by a segment code array."""
    assert name in {f.name for f in fields(Habits)}
    return np.array([getattr(h, name) for h in SEGMENTS], dtype=np.float64)


# Local-time hour-of-day traffic: quiet nights, a lunch bump, the evening peak.
NORMAL_HOURS = np.array([0.8, 0.5, 0.3, 0.2, 0.2, 0.3, 0.7, 1.5, 2.5, 3.0, 3.2, 3.4,
                         3.8, 3.6, 3.3, 3.3, 3.5, 3.9, 4.5, 5.3, 5.8, 5.4, 3.8, 2.0])
# Automated traffic runs when nobody watches.
NIGHT_HOURS = np.array([5.0, 6.0, 6.0, 6.0, 5.0, 4.0, 2.0, 1.0, 0.6, 0.5, 0.5, 0.5,
                        0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.8, 1.0, 1.5, 2.5, 3.5, 4.5])
FLAT_HOURS = np.ones(24)

# Monday .. Sunday: weekends bring more visits.
WEEKDAY_FACTOR = np.array([1.0, 0.97, 0.98, 1.0, 1.05, 1.15, 1.2])


@dataclass(frozen=True)
class DayMood:
    """Multipliers that shift everyone's behaviour on a given day."""

    active: float = 1.0
    sessions: float = 1.0
    views: float = 1.0
    cart: float = 1.0
    checkout: float = 1.0
    coupon: float = 1.0
    promotion: bool = False


PROMOTION_MOOD = DayMood(active=1.5, sessions=1.6, views=1.1, cart=1.5, checkout=1.25, coupon=5.0, promotion=True)


def day_mood(day: date, promotion: bool) -> DayMood:
    weekday = float(WEEKDAY_FACTOR[day.weekday()])
    base = PROMOTION_MOOD if promotion else DayMood()
    return DayMood(active=base.active * weekday, sessions=base.sessions * weekday ** 0.5, views=base.views,
                   cart=base.cart, checkout=base.checkout, coupon=base.coupon, promotion=base.promotion)


def local_start_seconds(rng: np.random.Generator, n: int, hour_weights: np.ndarray) -> np.ndarray:
    """Session start times (seconds after local midnight) following an hour-of-day curve."""
    cdf = np.cumsum(hour_weights) / hour_weights.sum()
    hour = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), 23)
    return (hour + rng.random(n)) * 3600.0


def expected_events_per_user_day() -> float:
    """Average events per registered user and day from the habits above (used to size worlds)."""
    total = 0.0
    for h in SEGMENTS:
        kept = h.views_mean * h.p_cart * (1 - h.p_remove)
        p_checkout = (1 - np.exp(-kept)) * h.p_checkout
        per_session = (0.85 + h.searches_mean + h.views_mean + h.views_mean * h.p_cart * (1 + h.p_remove)
                       + p_checkout * (1.1 + h.p_coupon + kept) + h.p_review)
        total += h.share * h.p_active * h.sessions_mean * per_session
    return float(total)


def mean_active_share() -> float:
    return float(sum(h.share * h.p_active for h in SEGMENTS))
