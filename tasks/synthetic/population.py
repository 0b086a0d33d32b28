"""Registered users: segments, home countries, devices, IPs, tastes, signups and the anomaly cast."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from tasks.synthetic.behaviour import (
    NEW_USER,
    SEGMENT_NAMES,
    SEGMENTS,
    expected_events_per_user_day,
    mean_active_share,
)
from tasks.synthetic.cast import AnomalyCast, cast_anomalies, mean_anomalous_events_per_day
from tasks.synthetic.catalogue import CATEGORY_SPECS, Catalogue, build_catalogue
from tasks.synthetic.config import WorldConfig
from tasks.synthetic.difficulty import DifficultyKnobs, knobs
from tasks.synthetic.geography import COUNTRIES, HOME_WEIGHTS, RESIDENTIAL_FIRST_OCTETS, random_ips
from tasks.synthetic.ids import numbered
from tasks.synthetic.schema import ANOMALY_KINDS, TIMESTAMP, USER_SCHEMA

log = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
WORLD_STREAM = 0  # seed-sequence key of the world (days use their date ordinal, far above it)
PROMOTION_SIGNUP_SHARE = 0.03  # extra accounts created on a promotion day, as a share of users
GENDERS = ("female", "male", "other")
# Benign customers whose habits look like fraud to a simple rule (see tasks.synthetic.difficulty).
ORDINARY, POWER_BUYER, RESELLER = 0, 1, 2
# Events a day of a power buyer / reseller relative to an ordinary customer (measured on a 20k-user world).
PERSONA_LOAD = {POWER_BUYER: 6.7, RESELLER: 18.0}
OFFICE_SIZE = (20, 120)   # customers behind one office NAT address
FAMILY_SIZE = (2, 4)      # customers sharing a household device
P_FAMILY_CARD = 0.5       # a family member pays with the household card


def day_start_us(day: date) -> int:
    return ordinal_start_us(day.toordinal())


def ordinal_start_us(ordinal: int | np.ndarray) -> int | np.ndarray:
    """Midnight UTC of a date ordinal, in microseconds since the epoch."""
    return (ordinal - _EPOCH_ORDINAL) * US_PER_DAY


@dataclass(frozen=True)
class Population:
    config: WorldConfig
    user_ids: pa.Array
    segment: np.ndarray          # int8 index into SEGMENTS
    country: np.ndarray          # int16 index into geography.COUNTRIES
    signup_us: np.ndarray        # int64 microseconds since the epoch
    devices: np.ndarray          # int64 (n, 2): the devices each user owns
    n_devices: np.ndarray        # int8: 1 or 2
    home_ip: np.ndarray          # uint32
    preference_cdf: np.ndarray   # float32 (n, categories): cumulative taste over categories
    cast: AnomalyCast
    catalogue: Catalogue
    activity_scale: float        # < 1 when events_per_day asks for less traffic than the users make
    birth_year: np.ndarray       # int32, 0: unknown
    gender: np.ndarray           # int8 index into GENDERS, -1: unknown
    cards: np.ndarray            # int64 (n, 2): payment cards each user owns (the first one is the usual)
    persona: np.ndarray          # int8: ORDINARY, POWER_BUYER or RESELLER
    office_ip: np.ndarray        # uint32 NAT address of the user's workplace, 0: none
    household_device: np.ndarray  # int64 device shared with the family, -1: none
    knobs: DifficultyKnobs

    @property
    def size(self) -> int:
        return len(self.segment)

    @property
    def signup_day(self) -> np.ndarray:
        return self.signup_us // US_PER_DAY + _EPOCH_ORDINAL

    def users_table(self) -> pa.Table:
        return pa.table({
            "user_id": self.user_ids,
            "signup_ts": pa.array(self.signup_us, type=TIMESTAMP),
            "birth_year": pa.array(self.birth_year, mask=self.birth_year == 0, type=pa.int32()),
            "gender": pa.array(GENDERS).take(pa.array(self.gender, mask=self.gender < 0)),
            "country": pa.array(COUNTRIES).take(pa.array(self.country)),
            "segment": pa.array(SEGMENT_NAMES).take(pa.array(self.segment)),
        }, schema=USER_SCHEMA)


def world_size(config: WorldConfig) -> tuple[int, float]:
    """(users, activity scale) that give about ``events_per_day`` events a day.

    More traffic than the registered users would make means more users (each keeps realistic
    habits); less traffic means each user visits less often.
    """
    if config.events_per_day is None:
        return config.users, 1.0
    level = knobs(config.difficulty)
    personas = 1 + (level.power_buyer_share * (PERSONA_LOAD[POWER_BUYER] - 1)
                    + level.reseller_share * (PERSONA_LOAD[RESELLER] - 1))
    anomalous = mean_anomalous_events_per_day(level.camouflaged_share)
    per_user = expected_events_per_user_day() * personas + config.anomaly_share * mean_active_share() * anomalous
    natural = config.users * per_user
    if config.events_per_day >= natural:
        return math.ceil(config.events_per_day / per_user), 1.0
    return config.users, config.events_per_day / natural


def build_population(config: WorldConfig) -> Population:
    rng = np.random.default_rng([config.seed, WORLD_STREAM])
    n, activity_scale = world_size(config)
    if n != config.users:
        log.info("events_per_day=%d needs %d users (asked for %d)", config.events_per_day, n, config.users)
    catalogue = build_catalogue(rng)
    shares = np.array([h.share for h in SEGMENTS])
    segment = rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum()).astype(np.int8)
    country = rng.choice(len(HOME_WEIGHTS), size=n, p=HOME_WEIGHTS).astype(np.int16)

    world_start = day_start_us(config.start)
    signup_time_of_day = (rng.random(n) * 0.8 * US_PER_DAY).astype(np.int64)
    established_days = rng.integers(30, 4 * 365, size=n)
    signup = world_start - established_days * US_PER_DAY + signup_time_of_day
    # New users joined in the last weeks or join while the world runs.
    new = segment == NEW_USER
    new_days = rng.integers(-45, config.days, size=int(new.sum()))
    signup[new] = world_start + new_days * US_PER_DAY + signup_time_of_day[new]
    if config.promotion_day is not None:
        promo_signups = rng.choice(n, size=int(PROMOTION_SIGNUP_SHARE * n), replace=False)
        segment[promo_signups] = NEW_USER
        signup[promo_signups] = day_start_us(config.promotion_day) + signup_time_of_day[promo_signups]

    # Owned devices are unique per user (spaced ids plus noise); fresh devices elsewhere are random.
    devices = 10**11 + (np.arange(n)[:, None] * 2 + np.arange(2)) * 1000 + rng.integers(0, 1000, size=(n, 2))
    n_devices = np.where(rng.random(n) < 0.4, 2, 1).astype(np.int8)
    home_ip = random_ips(rng, n, RESIDENTIAL_FIRST_OCTETS)
    base_taste = np.array([spec[3] for spec in CATEGORY_SPECS])
    taste = rng.gamma(np.broadcast_to(base_taste * 3.0, (n, len(base_taste))))
    preference_cdf = (np.cumsum(taste, axis=1) / taste.sum(axis=1, keepdims=True)).astype(np.float32)

    established = np.flatnonzero(signup < world_start)
    level = knobs(config.difficulty)
    cast = cast_anomalies(rng, established, config.start.toordinal(), config.days, config.anomaly_share,
                          level.camouflaged_share, n, activity_scale, catalogue)
    # Coupon abusers are fresh accounts: created the day their streak begins.
    coupon = cast.user[cast.kind == ANOMALY_KINDS.index("coupon_abuse")]
    coupon_first = cast.first_day[cast.kind == ANOMALY_KINDS.index("coupon_abuse")]
    segment[coupon] = NEW_USER
    signup[coupon] = ordinal_start_us(coupon_first) + (rng.random(len(coupon)) * 6 * 3600e6).astype(np.int64)

    birth_year = np.clip(np.round(rng.normal(1987, 13, n)), 1940, 2008).astype(np.int32)
    birth_year[rng.random(n) < 0.12] = 0
    gender = rng.choice([0, 1, 2, -1], size=n, p=[0.47, 0.44, 0.02, 0.07]).astype(np.int8)
    # Cards: unique per user, like devices; a card token never reveals its owner (see table.payment_tokens).
    cards = 5 * 10**11 + (np.arange(n)[:, None] * 2 + np.arange(2)) * 1000 + rng.integers(0, 1000, size=(n, 2))

    persona = np.full(n, ORDINARY, dtype=np.int8)
    draw = rng.random(n)
    persona[draw < level.power_buyer_share + level.reseller_share] = RESELLER
    persona[draw < level.power_buyer_share] = POWER_BUYER
    office_ip = np.zeros(n, dtype=np.uint32)
    office_users = np.flatnonzero(rng.random(n) < level.office_share)
    if len(office_users):
        office_of = np.repeat(np.arange(len(office_users)), rng.integers(*OFFICE_SIZE, size=len(office_users)))
        office_of = office_of[:len(office_users)]
        office_ip[office_users] = random_ips(rng, int(office_of[-1]) + 1, RESIDENTIAL_FIRST_OCTETS)[office_of]
    household_device = np.full(n, -1, dtype=np.int64)
    members = np.flatnonzero(rng.random(n) < level.family_share)
    if len(members):
        family_of = np.repeat(np.arange(len(members)), rng.integers(FAMILY_SIZE[0], FAMILY_SIZE[1] + 1,
                                                                    size=len(members)))[:len(members)]
        head = members[np.searchsorted(family_of, family_of)]  # first member of each family
        household_device[members] = devices[head, 0]
        home_ip[members] = home_ip[head]
        pays_together = rng.random(len(members)) < P_FAMILY_CARD
        cards[members[pays_together], 0] = cards[head[pays_together], 0]
    return Population(
        config=config, user_ids=numbered("u", np.arange(n), 7), segment=segment, country=country,
        signup_us=signup, devices=devices, n_devices=n_devices, home_ip=home_ip,
        preference_cdf=preference_cdf, cast=cast, catalogue=catalogue, activity_scale=activity_scale,
        birth_year=birth_year, gender=gender, cards=cards, persona=persona, office_ip=office_ip,
        household_device=household_device, knobs=level,
    )


def signup_clock_s(population: Population, users: np.ndarray, day: date) -> np.ndarray:
    """Seconds after midnight of the signup on ``day`` (0 for users who signed up earlier)."""
    since = (population.signup_us[users] - day_start_us(day)) / 1e6
    return np.clip(since, 0.0, None)

