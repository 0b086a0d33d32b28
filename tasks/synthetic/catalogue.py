"""The shop's item catalogue: categories, lognormal prices, popularity within each category."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tasks.synthetic.ids import numbered

# name, median price, price spread (lognormal sigma), share of the catalogue
CATEGORY_SPECS: tuple[tuple[str, float, float, float], ...] = (
    ("electronics", 140.0, 0.9, 0.14),
    ("fashion", 38.0, 0.6, 0.20),
    ("home", 32.0, 0.8, 0.14),
    ("beauty", 18.0, 0.6, 0.10),
    ("books", 13.0, 0.4, 0.10),
    ("toys", 24.0, 0.7, 0.08),
    ("sports", 42.0, 0.8, 0.08),
    ("grocery", 7.0, 0.6, 0.08),
    ("jewelry", 110.0, 1.0, 0.04),
    ("gift_cards", 40.0, 0.5, 0.04),
)
CATEGORIES: tuple[str, ...] = tuple(spec[0] for spec in CATEGORY_SPECS)
HIGH_VALUE_CATEGORIES: tuple[str, ...] = ("electronics", "jewelry", "gift_cards")
# Popularity skew: the item at rank r of a category is picked with probability ~ r^(1/SKEW - 1).
POPULARITY_SKEW = 2.5


@dataclass(frozen=True)
class Catalogue:
    item_ids: pa.Array          # string, one per item
    category: np.ndarray        # int16 index into CATEGORIES
    price: np.ndarray           # float64 list price
    category_offsets: np.ndarray  # first item of each category (items are grouped by category)
    category_sizes: np.ndarray

    @property
    def size(self) -> int:
        return len(self.price)

    def cheap_items(self, max_price: float = 5.0) -> np.ndarray:
        return np.flatnonzero(self.price <= max_price)

    def high_value_items(self, top_share: float = 0.3) -> np.ndarray:
        """The most expensive items of the high-value categories (what account takeovers buy)."""
        wanted = np.isin(self.category, [CATEGORIES.index(c) for c in HIGH_VALUE_CATEGORIES])
        cutoff = np.quantile(self.price[wanted], 1 - top_share)
        return np.flatnonzero(wanted & (self.price >= cutoff))

    def sample_by_preference(self, rng: np.random.Generator, preference_cdf: np.ndarray) -> np.ndarray:
        """One item per row of ``preference_cdf`` (rows: cumulative category weights), popular first."""
        n = len(preference_cdf)
        cat = (rng.random(n)[:, None] > preference_cdf).sum(axis=1)
        cat = np.minimum(cat, len(CATEGORIES) - 1)
        rank = np.floor(self.category_sizes[cat] * rng.random(n) ** POPULARITY_SKEW).astype(np.int64)
        return self.category_offsets[cat] + rank


def build_catalogue(rng: np.random.Generator, n_items: int = 20_000) -> Catalogue:
    shares = np.array([spec[3] for spec in CATEGORY_SPECS])
    sizes = np.maximum(1, np.round(shares / shares.sum() * n_items)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    category = np.repeat(np.arange(len(CATEGORIES), dtype=np.int16), sizes)
    medians = np.array([spec[1] for spec in CATEGORY_SPECS])[category]
    sigmas = np.array([spec[2] for spec in CATEGORY_SPECS])[category]
    raw = medians * np.exp(sigmas * rng.standard_normal(len(category)))
    # Shops price at x.99; the cheapest things still cost something.
    price = np.maximum(0.49, np.round(raw) - 0.01)
    # Some categories have a few bargain bins (cheap accessories, samples) that brushers exploit.
    bargain = rng.random(len(category)) < 0.04
    price[bargain] = np.round(rng.uniform(0.5, 4.99, bargain.sum()), 2)
    item_ids = numbered("item-", np.arange(len(category)), 6)
    return Catalogue(item_ids=item_ids, category=category, price=price,
                     category_offsets=offsets, category_sizes=sizes)
