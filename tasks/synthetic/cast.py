"""Who misbehaves, how, and on which days (the anomaly cast of a world)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.synthetic.behaviour import mean_active_share
from tasks.synthetic.catalogue import Catalogue
from tasks.synthetic.geography import RESIDENTIAL_FIRST_OCTETS, random_ips
from tasks.synthetic.schema import ANOMALY_KINDS


@dataclass(frozen=True)
class Variant:
    """How long one variant of a kind misbehaves, and how many accounts operate together."""

    min_days: int          # length of the misbehaving streak
    max_days: int
    ring_min: int = 1      # accounts operated together (sharing devices, IPs and cards)
    ring_max: int = 1
    events_per_day: float = 20.0  # rough volume of one anomalous user-day (for sizing worlds)
    staggered: bool = False       # ring members misbehave on their own days, not all at once


@dataclass(frozen=True)
class KindSpec:
    weight: float          # share of anomalous user-days
    blatant: Variant
    camouflaged: Variant   # stays within human ranges (tasks.synthetic.anomalies, CAMOUFLAGED_PLANNERS)


KIND_SPECS: dict[str, KindSpec] = {
    "scraper_bot": KindSpec(0.20, Variant(1, 3, events_per_day=1300.0), Variant(3, 8, events_per_day=70.0)),
    "card_testing": KindSpec(0.15, Variant(1, 2, events_per_day=60.0),
                             Variant(2, 6, ring_min=2, ring_max=5, events_per_day=9.0, staggered=True)),
    "account_takeover": KindSpec(0.20, Variant(1, 2, events_per_day=15.0),
                                 Variant(2, 4, ring_min=2, ring_max=5, events_per_day=10.0, staggered=True)),
    "click_fraud": KindSpec(0.15, Variant(2, 5, events_per_day=60.0),
                            Variant(3, 8, ring_min=3, ring_max=8, events_per_day=10.0)),
    "fake_reviews": KindSpec(0.15, Variant(2, 5, ring_min=3, ring_max=6, events_per_day=14.0),
                             Variant(3, 8, ring_min=4, ring_max=8, events_per_day=10.0)),
    "coupon_abuse": KindSpec(0.15, Variant(1, 3, ring_min=4, ring_max=8, events_per_day=18.0),
                             Variant(1, 1, ring_min=4, ring_max=10, events_per_day=9.0, staggered=True)),
}
assert tuple(KIND_SPECS) == ANOMALY_KINDS
TARGETS_PER_USER = 3
RING_CARDS = 4


@dataclass(frozen=True)
class AnomalyCast:
    """Anomalous users sorted by user index, with their kind, streak and shared infrastructure."""

    user: np.ndarray          # int64 user index, ascending
    kind: np.ndarray          # int8 index into ANOMALY_KINDS
    first_day: np.ndarray     # int64 date ordinal, inclusive
    last_day: np.ndarray      # int64 date ordinal, inclusive
    ring_devices: np.ndarray  # int64 (n, 2): devices the ring shares
    ring_ip: np.ndarray       # uint32: the ring's shared address
    targets: np.ndarray       # int64 (n, TARGETS_PER_USER): items clicked or brushed
    ring_cards: np.ndarray    # int64 (n, RING_CARDS): payment cards the ring shares (stolen or its own)
    camouflaged: np.ndarray   # bool: the ring uses the camouflaged variant of its kind

    def misbehaving(self, users: np.ndarray, day_ordinal: int) -> np.ndarray:
        """Cast row of each of ``users`` that misbehaves on the day, else -1."""
        if len(self.user) == 0:
            return np.full(len(users), -1)
        row = np.minimum(np.searchsorted(self.user, users), len(self.user) - 1)
        hit = (self.user[row] == users) & (self.first_day[row] <= day_ordinal) & (day_ordinal <= self.last_day[row])
        return np.where(hit, row, -1)

    def kind_of(self, rows: np.ndarray) -> np.ndarray:
        """Kind code of each cast row from ``misbehaving`` (-1 stays -1: behaving normally)."""
        if len(self.user) == 0:
            return np.full(len(rows), -1, dtype=np.int8)
        return np.where(rows >= 0, self.kind[np.maximum(rows, 0)], -1).astype(np.int8)


def _mean_streak(variant: Variant, days: int) -> float:
    return float(np.minimum(np.arange(variant.min_days, variant.max_days + 1), days).mean())


def anomalous_users_per_variant(n_users: int, days: int, share: float, camouflaged_share: float,
                                activity_scale: float = 1.0) -> dict[tuple[str, bool], int]:
    """Users needed per (kind, camouflaged) so anomalous user-days are about ``share`` of active user-days."""
    target_user_days = share * n_users * mean_active_share() * activity_scale * days
    counts = {}
    for kind, spec in KIND_SPECS.items():
        for camouflaged, variant, part in ((False, spec.blatant, 1 - camouflaged_share),
                                           (True, spec.camouflaged, camouflaged_share)):
            counts[kind, camouflaged] = int(round(target_user_days * spec.weight * part / _mean_streak(variant, days)))
    return counts


def mean_anomalous_events_per_day(camouflaged_share: float) -> float:
    return sum(spec.weight * ((1 - camouflaged_share) * spec.blatant.events_per_day
                              + camouflaged_share * spec.camouflaged.events_per_day)
               for spec in KIND_SPECS.values())


def cast_anomalies(rng: np.random.Generator, candidates: np.ndarray, first_ordinal: int, days: int,
                   share: float, camouflaged_share: float, n_users: int, activity_scale: float,
                   catalogue: Catalogue) -> AnomalyCast:
    """Pick anomalous users among ``candidates`` (established accounts), kind by kind and variant by variant."""
    wanted = anomalous_users_per_variant(n_users, days, share, camouflaged_share, activity_scale)
    pool = rng.permutation(candidates)
    wanted_total = sum(wanted.values())
    if wanted_total > len(pool) // 2:  # never let anomalies outnumber the customers
        scale = (len(pool) // 2) / wanted_total
        wanted = {k: int(v * scale) for k, v in wanted.items()}
    cheap = catalogue.cheap_items()
    rows: list[dict[str, np.ndarray]] = []
    taken = 0
    for kind_code, (kind, spec) in enumerate(KIND_SPECS.items()):
        for camouflaged, variant in ((False, spec.blatant), (True, spec.camouflaged)):
            n = wanted[kind, camouflaged]
            if n == 0:
                continue
            users = pool[taken:taken + n]
            taken += n
            rows.append(_variant_rows(rng, users, kind_code, kind, camouflaged, variant, first_ordinal, days,
                                      catalogue, cheap))
    if not rows:
        return AnomalyCast(*(np.zeros(0, dtype=np.int64) for _ in range(4)),
                           ring_devices=np.zeros((0, 2), np.int64), ring_ip=np.zeros(0, np.uint32),
                           targets=np.zeros((0, TARGETS_PER_USER), np.int64),
                           ring_cards=np.zeros((0, RING_CARDS), np.int64), camouflaged=np.zeros(0, bool))
    merged = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    order = np.argsort(merged["user"], kind="stable")
    return AnomalyCast(**{key: value[order] for key, value in merged.items()})


def _variant_rows(rng: np.random.Generator, users: np.ndarray, kind_code: int, kind: str, camouflaged: bool,
                  variant: Variant, first_ordinal: int, days: int, catalogue: Catalogue,
                  cheap: np.ndarray) -> dict[str, np.ndarray]:
    n = len(users)
    ring_sizes = rng.integers(variant.ring_min, variant.ring_max + 1, size=n)
    ring_of_user = np.repeat(np.arange(n), ring_sizes)[:n]  # consecutive users form a ring
    n_rings = int(ring_of_user[-1]) + 1
    if variant.staggered:  # each member keeps its own schedule: the ring is spread over days
        streak = np.minimum(rng.integers(variant.min_days, variant.max_days + 1, size=n), days)
        first = first_ordinal + rng.integers(0, days - streak + 1)
    else:
        ring_streak = np.minimum(rng.integers(variant.min_days, variant.max_days + 1, size=n_rings), days)
        ring_first = first_ordinal + rng.integers(0, days - ring_streak + 1)
        streak, first = ring_streak[ring_of_user], ring_first[ring_of_user]
    if kind == "fake_reviews" and not camouflaged:  # a brushing ring pushes the same cheap listings
        targets = rng.choice(cheap, size=(n_rings, TARGETS_PER_USER))[ring_of_user]
    elif kind in ("fake_reviews", "click_fraud"):  # the ring's own listings, at ordinary prices
        targets = rng.integers(0, catalogue.size, size=(n_rings, TARGETS_PER_USER))[ring_of_user]
    else:
        targets = rng.integers(0, catalogue.size, size=(n, TARGETS_PER_USER))
    return {
        "user": users.astype(np.int64),
        "kind": np.full(n, kind_code, dtype=np.int8),
        "first_day": first,
        "last_day": first + streak - 1,
        "ring_devices": rng.integers(10**11, 10**12, size=(n_rings, 2))[ring_of_user],
        "ring_ip": random_ips(rng, n_rings, RESIDENTIAL_FIRST_OCTETS)[ring_of_user],
        "targets": targets,
        "ring_cards": rng.integers(10**12, 10**13, size=(n_rings, RING_CARDS))[ring_of_user],
        "camouflaged": np.full(n, camouflaged),
    }
