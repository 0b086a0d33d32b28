"""Everyday customers: who visits today and what their sessions look like."""

from __future__ import annotations

from datetime import date

import numpy as np

from tasks.synthetic.behaviour import NORMAL_HOURS, DayMood, habit_column, local_start_seconds
from tasks.synthetic.geography import (
    MOBILE_FIRST_OCTETS,
    RESIDENTIAL_FIRST_OCTETS,
    UTC_OFFSET_HOURS,
    other_country,
    random_ips,
)
from tasks.synthetic.population import Population, signup_clock_s
from tasks.synthetic.schema import (
    CART,
    CHECKOUT,
    COUPON,
    FAILED,
    LOGIN,
    N_EVENT_TYPES,
    PURCHASE,
    REMOVE,
    REVIEW,
    SEARCH,
    VIEW,
)
from tasks.synthetic.sessions import SessionGroup, SessionPlan

P_LOGIN = 0.85            # most sessions start with a login
P_PAYMENT_FAILED = 0.05   # a checkout's first payment attempt fails ...
P_RETRY_SUCCESS = 0.8     # ... and the retry usually goes through
P_MOBILE_NETWORK = 0.25   # a session comes from a mobile carrier instead of home broadband
P_TRAVEL = 0.003          # a user-day spent abroad (own devices, foreign network)
P_NEW_DEVICE = 0.004      # a user-day on a brand-new device (new phone, a friend's laptop)


def active_normal_users(population: Population, users: np.ndarray, day: date, mood: DayMood,
                        rng: np.random.Generator, busy: np.ndarray) -> np.ndarray:
    """The ``users`` who visit today as ordinary customers (``busy``: taken by an anomaly)."""
    signup_day = population.signup_day[users]
    p_active = habit_column("p_active")[population.segment[users]] * mood.active * population.activity_scale
    visits = rng.random(len(users)) < np.minimum(p_active, 0.95)
    visits |= signup_day == day.toordinal()  # people who just signed up look around
    return users[visits & (signup_day <= day.toordinal()) & ~busy]


def plan_normal_sessions(population: Population, users: np.ndarray, day: date, mood: DayMood,
                         rng: np.random.Generator) -> SessionGroup:
    seg = population.segment[users]
    habit = {name: habit_column(name)[seg] for name in (
        "sessions_mean", "searches_mean", "views_mean", "p_cart", "p_remove", "p_checkout",
        "p_coupon", "p_review", "think_time_s")}
    n_sessions = 1 + rng.poisson(np.maximum(habit["sessions_mean"] * mood.sessions - 1, 0))

    # Per user-day circumstances, shared by the day's sessions.
    travelling = rng.random(len(users)) < P_TRAVEL
    day_country = np.where(travelling, other_country(rng, population.country[users], attackers=False),
                           population.country[users])
    new_device = rng.random(len(users)) < P_NEW_DEVICE
    day_device = np.where(new_device, rng.integers(10**11, 10**12, size=len(users)), -1)

    owner = np.repeat(np.arange(len(users)), n_sessions)  # session -> position in ``users``
    user = users[owner]
    n = len(owner)
    h = {name: values[owner] for name, values in habit.items()}

    counts = np.zeros((n, N_EVENT_TYPES), dtype=np.int64)
    counts[:, LOGIN] = rng.random(n) < P_LOGIN
    counts[:, SEARCH] = rng.poisson(h["searches_mean"])
    counts[:, VIEW] = 1 + rng.poisson(np.maximum(h["views_mean"] * mood.views - 1, 0))
    counts[:, CART] = rng.binomial(counts[:, VIEW], np.minimum(h["p_cart"] * mood.cart, 0.9))
    counts[:, REMOVE] = rng.binomial(counts[:, CART], h["p_remove"])
    kept = counts[:, CART] - counts[:, REMOVE]
    checks_out = (kept > 0) & (rng.random(n) < np.minimum(h["p_checkout"] * mood.checkout, 0.95))
    failed = checks_out & (rng.random(n) < P_PAYMENT_FAILED)
    retried = failed & (rng.random(n) < P_RETRY_SUCCESS)
    counts[:, CHECKOUT] = checks_out + retried
    counts[:, FAILED] = failed
    counts[:, PURCHASE] = np.where(checks_out & (~failed | retried), kept, 0)
    counts[:, COUPON] = checks_out & (rng.random(n) < np.minimum(h["p_coupon"] * mood.coupon, 0.85))
    counts[:, REVIEW] = rng.random(n) < h["p_review"]

    local = local_start_seconds(rng, n, NORMAL_HOURS)
    start_s = np.mod(local - UTC_OFFSET_HOURS[population.country[user]] * 3600.0, 86_400.0)
    slot = (rng.random(n) < 0.35) & (population.n_devices[user] == 2)
    device = np.where(day_device[owner] >= 0, day_device[owner], population.devices[user, slot.astype(int)])
    mobile = rng.random(n) < P_MOBILE_NETWORK
    ip = np.where(mobile, random_ips(rng, n, MOBILE_FIRST_OCTETS), population.home_ip[user])
    ip = np.where(travelling[owner], random_ips(rng, n, RESIDENTIAL_FIRST_OCTETS), ip)

    plan = SessionPlan(
        user=user, counts=counts, start_s=start_s, earliest_s=signup_clock_s(population, user, day),
        think_time_s=h["think_time_s"] * rng.lognormal(0.0, 0.3, n), device=device, ip=ip.astype(np.uint32),
        country=day_country[owner],
    )
    cdf = population.preference_cdf
    catalogue = population.catalogue

    def by_taste(rng: np.random.Generator, sessions: np.ndarray) -> np.ndarray:
        return catalogue.sample_by_preference(rng, cdf[user[sessions]])

    return SessionGroup(plan=plan, pick_items=by_taste, gap_sigma=0.9)
