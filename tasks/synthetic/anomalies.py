"""How each kind of bad actor shows up in the raw events (no flag column: only behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from tasks.synthetic.behaviour import FLAT_HOURS, NIGHT_HOURS, NORMAL_HOURS, local_start_seconds
from tasks.synthetic.geography import (
    COUNTRIES,
    DATACENTER_FIRST_OCTETS,
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
             ip: np.ndarray, country: np.ndarray, payment: np.ndarray | None = None) -> SessionPlan:
        return SessionPlan(
            user=self.user, counts=counts, start_s=start_s, earliest_s=self.signed_up_s(),
            think_time_s=np.broadcast_to(think_time_s, (self.n,)).astype(np.float64), device=device.astype(np.int64),
            ip=ip.astype(np.uint32), country=country.astype(np.int16),
            payment=np.full(self.n, -1, dtype=np.int64) if payment is None else payment.astype(np.int64),
        )

    def signed_up_s(self) -> np.ndarray:
        return signup_clock_s(self.population, self.user, self.day)

    def ring_card(self) -> np.ndarray:
        """One of the ring's shared cards per session."""
        cards = self.population.cast.ring_cards[self.row]
        return cards[np.arange(self.n), self.rng.integers(0, cards.shape[1], size=self.n)]

    def own_card(self) -> np.ndarray:
        return self.population.cards[self.user, 0]

    def mixed(self, first: ItemPicker, second: ItemPicker, p_first: float) -> ItemPicker:
        def pick(rng: np.random.Generator, sessions: np.ndarray) -> np.ndarray:
            items = second(rng, sessions)
            chosen = rng.random(len(sessions)) < p_first
            items[chosen] = first(rng, sessions[chosen])
            return items
        return pick

    def by_taste(self) -> ItemPicker:
        cdf = self.population.preference_cdf[self.user]
        catalogue = self.population.catalogue
        return lambda rng, sessions: catalogue.sample_by_preference(rng, cdf[sessions])

    @staticmethod
    def from_pool(pool: np.ndarray) -> ItemPicker:
        return lambda rng, sessions: pool[rng.integers(0, len(pool), size=len(sessions))]

    def from_targets(self) -> ItemPicker:
        targets = self.population.cast.targets[self.row]
        return lambda rng, sessions: targets[sessions, rng.integers(0, targets.shape[1], size=len(sessions))]


def _payment_attempts(a: _Actors, views: np.ndarray, failed: np.ndarray, p_success: float) -> np.ndarray:
    """Counts of a card tester's session: a look, one cart, ``failed`` declined payments, maybe one that works."""
    c = a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = views
    c[:, CART] = 1
    c[:, FAILED] = failed
    success = a.rng.random(a.n) < p_success
    c[:, CHECKOUT] = c[:, FAILED] + success
    c[:, PURCHASE] = success
    return c


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
    rng = a.rng
    c = _payment_attempts(a, views=rng.integers(1, 3, size=a.n), failed=rng.integers(2, 7, size=a.n), p_success=0.15)
    plan = a.plan(c, a.local_starts(FLAT_HOURS), 3.0, device=rng.integers(10**11, 10**12, size=a.n),
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user],
                  payment=rng.integers(10**12, 10**13, size=a.n))
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
                  country=a.per_actor(other_country(rng, home, attackers=True)), payment=a.own_card())
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


def _bought_and_reviewed(a: _Actors, views: np.ndarray, reviews: np.ndarray) -> np.ndarray:
    """Counts of a brushing session: a look, one item bought, and ``reviews`` reviews."""
    c = a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = views
    c[:, CART] = 1
    c[:, CHECKOUT] = 1
    c[:, PURCHASE] = 1
    c[:, REVIEW] = reviews
    return c


def fake_reviews(a: _Actors) -> SessionGroup:
    """Brushing: a ring buys its own tiny-priced listings and reviews them the same day."""
    rng = a.rng
    c = _bought_and_reviewed(a, views=rng.integers(1, 3, size=a.n), reviews=np.ones(a.n, dtype=np.int64))
    cast = a.population.cast
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 10.0, device=cast.ring_devices[a.row, rng.integers(0, 2, size=a.n)],
                  ip=cast.ring_ip[a.row], country=a.population.country[a.user], payment=a.ring_card())
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
                  ip=cast.ring_ip[a.row], country=a.population.country[a.user], payment=a.ring_card())
    return SessionGroup(plan, a.by_taste(), gap_sigma=0.5)


# --- camouflaged variants: inside human ranges, spread over sessions, days and accounts ---------

def low_and_slow_scraper(a: _Actors) -> SessionGroup:
    """Crawls a few dozen listings a day at human pace and hours, from the account's own device."""
    rng, c = a.rng, a.counts()
    c[:, VIEW] = rng.integers(6, 22, size=a.n)
    c[:, SEARCH] = rng.binomial(c[:, VIEW], 0.3)
    c[:, LOGIN] = rng.random(a.n) < 0.7
    home = a.population.country[a.user]
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), a.per_actor(rng.uniform(10.0, 30.0, size=a.n_actors)),
                  device=a.population.devices[a.user, 0], ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS),
                  country=home)
    everything = np.arange(a.population.catalogue.size)
    return SessionGroup(plan, a.from_pool(everything), gap_sigma=0.8)


def spread_card_testing(a: _Actors) -> SessionGroup:
    """One small failed payment a day, over days, on cards the whole ring shares."""
    rng = a.rng
    c = _payment_attempts(a, views=rng.integers(1, 5, size=a.n), failed=np.ones(a.n, dtype=np.int64), p_success=0.5)
    cast = a.population.cast
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 14.0, device=cast.ring_devices[a.row, rng.integers(0, 2, size=a.n)],
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user],
                  payment=a.ring_card())
    return SessionGroup(plan, a.from_pool(a.population.catalogue.cheap_items(max_price=25.0)), gap_sigma=0.8)


def mimicking_takeover(a: _Actors) -> SessionGroup:
    """Logs in from the owner's country at the owner's hours and browses; cashes out on the last day."""
    rng, c = a.rng, a.counts()
    cast = a.population.cast
    cash_out = cast.last_day[a.row] == a.day.toordinal()
    c[:, LOGIN] = 1
    c[:, SEARCH] = rng.integers(0, 3, size=a.n)
    c[:, VIEW] = rng.integers(2, 8, size=a.n)
    c[:, CART] = cash_out * rng.integers(1, 3, size=a.n)
    c[:, CHECKOUT] = cash_out
    c[:, PURCHASE] = c[:, CART]
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 20.0, device=cast.ring_devices[a.row, 0],
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user],
                  payment=a.own_card())
    high_value = a.from_pool(a.population.catalogue.high_value_items())
    return SessionGroup(plan, a.mixed(high_value, a.by_taste(), 0.5), gap_sigma=0.8)


def distributed_click_fraud(a: _Actors) -> SessionGroup:
    """A device farm: a few clicks per session on the ring's listings, every session a new device."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = rng.random(a.n) < 0.1
    c[:, VIEW] = rng.integers(1, 4, size=a.n)
    c[:, CART] = rng.random(a.n) < 0.1  # the odd add to cart, as a browsing human would
    everything = np.arange(a.population.catalogue.size)
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 15.0, device=rng.integers(10**11, 10**12, size=a.n),
                  ip=random_ips(rng, a.n, MOBILE_FIRST_OCTETS), country=a.population.country[a.user])
    return SessionGroup(plan, a.mixed(a.from_targets(), a.from_pool(everything), 0.4), gap_sigma=0.8)


def review_ring(a: _Actors) -> SessionGroup:
    """Members buy the ring's ordinary-priced listings on shared cards and review them on later visits."""
    rng = a.rng
    c = _bought_and_reviewed(a, views=rng.integers(2, 7, size=a.n), reviews=rng.random(a.n) < 0.7)
    plan = a.plan(c, a.local_starts(NORMAL_HOURS), 20.0, device=a.population.devices[a.user, 0],
                  ip=a.population.home_ip[a.user], country=a.population.country[a.user], payment=a.ring_card())
    return SessionGroup(plan, a.mixed(a.from_targets(), a.by_taste(), 0.5), gap_sigma=0.8)


def first_purchase_fraud(a: _Actors) -> SessionGroup:
    """A fresh account buys minutes after sign-up, on a device and cards its ring reuses over days."""
    rng, c = a.rng, a.counts()
    c[:, LOGIN] = 1
    c[:, VIEW] = rng.integers(1, 5, size=a.n)
    c[:, CART] = rng.integers(1, 3, size=a.n)
    c[:, COUPON] = rng.random(a.n) < 0.5
    c[:, CHECKOUT] = 1
    c[:, PURCHASE] = c[:, CART]
    cast = a.population.cast
    start = a.signed_up_s() + rng.exponential(240.0, size=a.n)
    plan = a.plan(c, start, 12.0, device=cast.ring_devices[a.row, rng.integers(0, 2, size=a.n)],
                  ip=random_ips(rng, a.n, RESIDENTIAL_FIRST_OCTETS), country=a.population.country[a.user],
                  payment=a.ring_card())
    high_value = a.from_pool(a.population.catalogue.high_value_items())
    return SessionGroup(plan, a.mixed(high_value, a.by_taste(), 0.5), gap_sigma=0.8)


# kind -> (planner, sessions per day low, high)
PLANNERS: dict[str, tuple[Callable[[_Actors], SessionGroup], int, int]] = {
    "scraper_bot": (scraper_bot, 3, 8),
    "card_testing": (card_testing, 4, 11),
    "account_takeover": (account_takeover, 1, 2),
    "click_fraud": (click_fraud, 15, 45),
    "fake_reviews": (fake_reviews, 1, 3),
    "coupon_abuse": (coupon_abuse, 1, 3),
}

# kind -> the camouflaged variant (tasks.synthetic.difficulty decides how many rings use it)
CAMOUFLAGED_PLANNERS: dict[str, tuple[Callable[[_Actors], SessionGroup], int, int]] = {
    "scraper_bot": (low_and_slow_scraper, 2, 5),
    "card_testing": (spread_card_testing, 1, 1),
    "account_takeover": (mimicking_takeover, 1, 1),
    "click_fraud": (distributed_click_fraud, 3, 8),
    "fake_reviews": (review_ring, 1, 1),
    "coupon_abuse": (first_purchase_fraud, 1, 1),
}


def plan_anomalous_sessions(kind: str, camouflaged: bool, population: Population, users: np.ndarray,
                            rows: np.ndarray, day: date, rng: np.random.Generator) -> SessionGroup:
    planner, low, high = (CAMOUFLAGED_PLANNERS if camouflaged else PLANNERS)[kind]
    return planner(_Actors(population, users, rows, day, rng, low, high))
