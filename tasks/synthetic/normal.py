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
from tasks.synthetic.population import ORDINARY, POWER_BUYER, RESELLER, Population, signup_clock_s
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
P_SECOND_CARD = 0.2       # a checkout pays with the user's other card
P_HOUSEHOLD_DEVICE = 0.5  # a family member's session on the shared household device
WORK_HOURS = (9, 17)      # local hours when office workers shop through the office NAT address
PROMOTED_ITEMS = 12       # the promotion's hero listings everyone looks at
P_PROMOTED_VIEW = 0.3     # share of promotion-day views that land on a hero listing
WATCHLIST = 4             # listings a reseller keeps checking
P_WATCHLIST_VIEW = 0.6
# Persona multipliers on (sessions, views, cart, checkout, think time): see tasks.synthetic.difficulty.
P_PERSONA_ACTIVE = 0.9   # power buyers and resellers visit nearly every day
P_POWER_BUY_HIGH_VALUE = 0.4  # a power buyer's view lands on an expensive listing
PERSONA_HABITS = {POWER_BUYER: (2.0, 1.5, 2.5, 1.5, 0.6), RESELLER: (2.5, 5.0, 0.3, 1.0, 0.25)}


def active_normal_users(population: Population, users: np.ndarray, day: date, mood: DayMood,
                        rng: np.random.Generator, busy: np.ndarray) -> np.ndarray:
    """The ``users`` who visit today as ordinary customers (``busy``: taken by an anomaly)."""
    signup_day = population.signup_day[users]
    p_active = habit_column("p_active")[population.segment[users]] * mood.active * population.activity_scale
    p_active = np.where(population.persona[users] != ORDINARY, P_PERSONA_ACTIVE * mood.active * population.activity_scale,
                        p_active)
    visits = rng.random(len(users)) < np.minimum(p_active, 0.95)
    visits |= signup_day == day.toordinal()  # people who just signed up look around
    return users[visits & (signup_day <= day.toordinal()) & ~busy]


def plan_normal_sessions(population: Population, users: np.ndarray, day: date, mood: DayMood,
                         rng: np.random.Generator) -> SessionGroup:
    seg = population.segment[users]
    habit = {name: habit_column(name)[seg] for name in (
        "sessions_mean", "searches_mean", "views_mean", "p_cart", "p_remove", "p_checkout",
        "p_coupon", "p_review", "think_time_s")}
    persona = population.persona[users]
    scale = {name: np.ones(len(users)) for name in ("sessions_mean", "views_mean", "p_cart", "p_checkout",
                                                    "think_time_s")}
    for code, factors in PERSONA_HABITS.items():
        for name, factor in zip(scale, factors, strict=True):
            scale[name][persona == code] = factor
    for name, factor in scale.items():
        habit[name] = habit[name] * factor
    n_sessions = 1 + rng.poisson(np.maximum(habit["sessions_mean"] * mood.sessions - 1, 0))
    level = population.knobs
    # A promotion pulls sign-ups straight to the checkout, welcome coupons stacked (looks like new-account fraud).
    rushing = mood.promotion & level.promotion_rush & (population.signup_day[users] == day.toordinal())

    # Per user-day circumstances, shared by the day's sessions.
    travelling = rng.random(len(users)) < level.p_travel
    day_country = np.where(travelling, other_country(rng, population.country[users], attackers=False),
                           population.country[users])
    new_device = rng.random(len(users)) < level.p_new_device
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
    p_checkout = np.where(rushing[owner], 0.9, np.minimum(h["p_checkout"] * mood.checkout, 0.95))
    checks_out = (kept > 0) & (rng.random(n) < p_checkout)
    failed = checks_out & (rng.random(n) < P_PAYMENT_FAILED)
    retried = failed & (rng.random(n) < P_RETRY_SUCCESS)
    counts[:, CHECKOUT] = checks_out + retried
    counts[:, FAILED] = failed
    counts[:, PURCHASE] = np.where(checks_out & (~failed | retried), kept, 0)
    counts[:, COUPON] = checks_out & (rng.random(n) < np.minimum(h["p_coupon"] * mood.coupon, 0.85))
    counts[:, COUPON] += np.where(checks_out & rushing[owner], rng.integers(1, 4, size=n), 0)
    counts[:, REVIEW] = rng.random(n) < h["p_review"]

    local = local_start_seconds(rng, n, NORMAL_HOURS)
    start_s = np.mod(local - UTC_OFFSET_HOURS[population.country[user]] * 3600.0, 86_400.0)
    signed_up_s = signup_clock_s(population, user, day)
    start_s = np.where(rushing[owner], signed_up_s + rng.exponential(300.0, n), start_s)
    slot = (rng.random(n) < 0.35) & (population.n_devices[user] == 2)
    device = np.where(day_device[owner] >= 0, day_device[owner], population.devices[user, slot.astype(int)])
    household = population.household_device[user]
    device = np.where((household >= 0) & (rng.random(n) < P_HOUSEHOLD_DEVICE), household, device)
    mobile = rng.random(n) < P_MOBILE_NETWORK
    ip = np.where(mobile, random_ips(rng, n, MOBILE_FIRST_OCTETS), population.home_ip[user])
    office = population.office_ip[user]
    local_hour = np.floor(local / 3600.0)
    at_work = (office > 0) & (day.weekday() < 5) & (local_hour >= WORK_HOURS[0]) & (local_hour < WORK_HOURS[1])
    ip = np.where(at_work & ~mobile, office, ip)
    ip = np.where(travelling[owner], random_ips(rng, n, RESIDENTIAL_FIRST_OCTETS), ip)
    payment = population.cards[user, (rng.random(n) < P_SECOND_CARD).astype(int)]

    plan = SessionPlan(
        user=user, counts=counts, start_s=start_s, earliest_s=signed_up_s,
        think_time_s=h["think_time_s"] * rng.lognormal(0.0, 0.3, n), device=device, ip=ip.astype(np.uint32),
        country=day_country[owner], payment=payment,
    )
    cdf = population.preference_cdf
    catalogue = population.catalogue
    hero_share = P_PROMOTED_VIEW if mood.promotion and level.promotion_rush else 0.0
    reseller = population.persona[user] == RESELLER
    power_buyer = population.persona[user] == POWER_BUYER
    high_value = catalogue.high_value_items()

    def by_taste(rng: np.random.Generator, sessions: np.ndarray) -> np.ndarray:
        items = catalogue.sample_by_preference(rng, cdf[user[sessions]])
        draw = rng.random(len(sessions))
        hero = draw < hero_share
        items[hero] = promoted_items(catalogue.size, rng.integers(0, PROMOTED_ITEMS, size=int(hero.sum())))
        watching = reseller[sessions] & (draw >= hero_share) & (rng.random(len(sessions)) < P_WATCHLIST_VIEW)
        items[watching] = watchlist_items(catalogue.size, user[sessions[watching]],
                                          rng.integers(0, WATCHLIST, size=int(watching.sum())))
        splurge = power_buyer[sessions] & (rng.random(len(sessions)) < P_POWER_BUY_HIGH_VALUE)
        items[splurge] = high_value[rng.integers(0, len(high_value), size=int(splurge.sum()))]
        return items

    return SessionGroup(plan=plan, pick_items=by_taste, gap_sigma=0.9)


def promoted_items(catalogue_size: int, rank: np.ndarray) -> np.ndarray:
    """The promotion's hero listings: a fixed spread over the catalogue."""
    return (rank * 1_597 + 11) % catalogue_size


def watchlist_items(catalogue_size: int, user: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """The few listings a reseller keeps checking (fixed per user)."""
    return (user * 7_919 + slot * 104_729) % catalogue_size
