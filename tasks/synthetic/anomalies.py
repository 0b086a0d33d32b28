"""How each kind of bad actor shows up in the raw events (no flag column: only behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from tasks.synthetic.behaviour import FLAT_HOURS, NIGHT_HOURS, NORMAL_HOURS, local_start_seconds
from tasks.synthetic.geography import (
    COUNTRIES,
    DATACENTER_FIRST_OCTETS,
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
    REVIEW,
    SEARCH,
    VIEW,
)
from tasks.synthetic.sessions import ItemPicker, SessionGroup, SessionPlan

DATACENTER_COUNTRIES = np.array([COUNTRIES.index(c) for c in ("US", "NL", "DE")], dtype=np.int16)


class _Actors:
    """The misbehaving users of one kind today, expanded to one row per session."""

    def __init__(self, population: Population, users: np.ndarray, rows: np.ndarray, day: date,
                 rng: np.random.Generator, sessions_low: int, sessions_high: int):
        self.population, self.users, self.day, self.rng = population, users, day, rng
        self.owner = np.repeat(np.arange(len(users)), rng.integers(sessions_low, sessions_high + 1, size=len(users)))
        self.user = users[self.owner]
        self.row = rows[self.owner]
        self.n = len(self.owner)
        self.n_actors = len(users)

    def counts(self) -> np.ndarray:
        return np.zeros((self.n, N_EVENT_TYPES), dtype=np.int64)

    def per_actor(self, values: np.ndarray) -> np.ndarray:
        """Spread one value per actor over the actor's sessions."""
        return values[self.owner]

    def local_starts(self, hours: np.ndarray) -> np.ndarray:
        local = local_start_seconds(self.rng, self.n, hours)
        offset = UTC_OFFSET_HOURS[self.population.country[self.user]] * 3600.0
        return np.mod(local - offset, 86_400.0)

    def plan(self, counts: np.ndarray, start_s: np.ndarray, think_time_s: float | np.ndarray, device: np.ndarray,
             ip: np.ndarray, country: np.ndarray) -> SessionPlan:
        return SessionPlan(
            user=self.user, counts=counts, start_s=start_s,
            earliest_s=signup_clock_s(self.population, self.user, self.day),
            think_time_s=np.broadcast_to(think_time_s, (self.n,)).astype(np.float64), device=device.astype(np.int64),
            ip=ip.astype(np.uint32), country=country.astype(np.int16),
        )

    @staticmethod
    def from_pool(pool: np.ndarray) -> ItemPicker:
        return lambda rng, sessions: pool[rng.integers(0, len(pool), size=len(sessions))]

    def from_targets(self) -> ItemPicker:
        targets = self.population.cast.targets[self.row]
        return lambda rng, sessions: targets[sessions, rng.integers(0, targets.shape[1], size=len(sessions))]


def scraper_bot(a: _Actors) -> SessionGroup:
    """Crawls the catalogue at night: hundreds of views, metronome-regular, mostly from data centres."""
    rng, c = a.rng, a.counts()
    c[:, VIEW] = rng.integers(120, 320, size=a.n)
    c[:, SEARCH] = rng.binomial(c[:, VIEW], 0.25)
    cast = a.population.cast
    # Some operators rent residential proxies and throttle to look less like a machine.
    proxied = a.per_actor(rng.random(a.n_actors) < 0.3)
    ip = np.where(proxied, random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), random_ips(rng, a.n, DATACENTER_FIRST_OCTETS))
    country = np.where(proxied, a.population.country[a.user], a.per_actor(rng.choice(DATACENTER_COUNTRIES, size=a.n_actors)))
    plan = a.plan(c, a.local_starts(NIGHT_HOURS), a.per_actor(rng.uniform(0.4, 1.2, size=a.n_actors)),
                  device=cast.ring_devices[a.row, 0], ip=ip, country=country)
    everything = np.arange(a.population.catalogue.size)
    return SessionGroup(plan, a.from_pool(everything), gap_sigma=0.15)


def card_testing(a: _Actors) -> SessionGroup:
    """Tries stolen cards on tiny orders: bursts of failed payments, fresh device every session."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = rng.integers(1, 3, size=a.n)
    c[:, CART] = 1
    c[:, FAILED] = rng.integers(2, 7, size=a.n)
    success = rng.random(a.n) < 0.15
    c[:, CHECKOUT] = c[:, FAILED] + success
    c[:, PURCHASE] = success
    plan = a.plan(c, a.local_starts(FLAT_HOURS), 3.0, device=rng.integers(10**11, 10**12, size=a.n),
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user])
    return SessionGroup(plan, a.from_pool(a.population.catalogue.cheap_items()), gap_sigma=0.4)


def account_takeover(a: _Actors) -> SessionGroup:
    """Someone else logs in (new device, new network, another country) and buys expensive goods fast."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = 1
    c[:, SEARCH] = rng.integers(0, 2, size=a.n)
    c[:, VIEW] = rng.integers(2, 7, size=a.n)
    c[:, CART] = rng.integers(1, 4, size=a.n)
    c[:, CHECKOUT] = 1
    c[:, PURCHASE] = c[:, CART]
    home = a.population.country[a.users]
    plan = a.plan(c, a.local_starts(FLAT_HOURS), 4.0,
                  device=a.per_actor(rng.integers(10**11, 10**12, size=a.n_actors)),
                  ip=a.per_actor(random_ips(rng, a.n_actors, RESIDENTIAL_FIRST_OCTETS)),
                  country=a.per_actor(other_country(rng, home, attackers=True)))
    return SessionGroup(plan, a.from_pool(a.population.catalogue.high_value_items()), gap_sigma=0.5)


def click_fraud(a: _Actors) -> SessionGroup:
    """Clicks the same few listings over and over, rotating IPs, never buying."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = rng.random(a.n) < 0.2
    c[:, VIEW] = rng.integers(1, 6, size=a.n)
    cast = a.population.cast
    plan = a.plan(c, a.local_starts(FLAT_HOURS), 8.0, device=cast.ring_devices[a.row, rng.integers(0, 2, size=a.n)],
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user])
    return SessionGroup(plan, a.from_targets(), gap_sigma=0.6)


def fake_reviews(a: _Actors) -> SessionGroup:
    """Brushing: a ring buys its own tiny-priced listings and reviews them the same day."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = rng.integers(1, 3, size=a.n)
    c[:, CART] = 1
    c[:, CHECKOUT] = 1
    c[:, PURCHASE] = 1
    c[:, REVIEW] = 1
    cast = a.population.cast
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 10.0, device=cast.ring_devices[a.row, rng.integers(0, 2, size=a.n)],
                  ip=cast.ring_ip[a.row], country=a.population.country[a.user])
    return SessionGroup(plan, a.from_targets(), gap_sigma=0.5, reviews_follow_purchases=True)


def coupon_abuse(a: _Actors) -> SessionGroup:
    """Fresh accounts on one shared device stack welcome coupons on every order."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = rng.integers(2, 6, size=a.n)
    c[:, CART] = rng.integers(1, 3, size=a.n)
    c[:, COUPON] = rng.integers(2, 7, size=a.n)
    c[:, CHECKOUT] = 1
    c[:, PURCHASE] = c[:, CART]
    cast = a.population.cast
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 6.0, device=cast.ring_devices[a.row, 0],
                  ip=cast.ring_ip[a.row], country=a.population.country[a.user])
    cdf = a.population.preference_cdf[a.user]
    catalogue = a.population.catalogue
    return SessionGroup(plan, lambda rng, sessions: catalogue.sample_by_preference(rng, cdf[sessions]), gap_sigma=0.5)


# kind -> (planner, sessions per day low, high)
PLANNERS: dict[str, tuple[Callable[[_Actors], SessionGroup], int, int]] = {
    "scraper_bot": (scraper_bot, 3, 8),
    "card_testing": (card_testing, 4, 11),
    "account_takeover": (account_takeover, 1, 2),
    "click_fraud": (click_fraud, 15, 45),
    "fake_reviews": (fake_reviews, 1, 3),
    "coupon_abuse": (coupon_abuse, 1, 3),
}


def plan_anomalous_sessions(kind: str, population: Population, users: np.ndarray, rows: np.ndarray,
                            day: date, rng: np.random.Generator) -> SessionGroup:
    planner, low, high = PLANNERS[kind]
    return planner(_Actors(population, users, rows, day, rng, low, high))
