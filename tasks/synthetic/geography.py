"""Countries, local time and the networks users come from."""

from __future__ import annotations

import numpy as np

# Home countries of the shop's customers: ISO 3166-1 alpha-2, population weight, UTC offset (h).
HOME_COUNTRIES: tuple[tuple[str, float, float], ...] = (
    ("US", 0.28, -5), ("GB", 0.10, 0), ("DE", 0.12, 1), ("FR", 0.08, 1), ("ES", 0.05, 1),
    ("IT", 0.05, 1), ("NL", 0.04, 1), ("PL", 0.04, 1), ("SE", 0.02, 1), ("CA", 0.05, -5),
    ("BR", 0.04, -3), ("MX", 0.03, -6), ("IN", 0.04, 5.5), ("JP", 0.03, 9), ("AU", 0.03, 10),
)
# Where account takeovers and card testers tend to connect from (never a customer's home here).
ATTACKER_COUNTRIES: tuple[str, ...] = ("RU", "NG", "VN", "RO", "UA", "ID", "CN", "KZ")

COUNTRIES: tuple[str, ...] = tuple(c for c, _, _ in HOME_COUNTRIES) + ATTACKER_COUNTRIES
HOME_WEIGHTS = np.array([w for _, w, _ in HOME_COUNTRIES]) / sum(w for _, w, _ in HOME_COUNTRIES)
UTC_OFFSET_HOURS = np.array([o for _, _, o in HOME_COUNTRIES] + [3.0] * len(ATTACKER_COUNTRIES))
ATTACKER_COUNTRY_CODES = np.arange(len(HOME_COUNTRIES), len(COUNTRIES))

# First octets that look like consumer broadband, mobile carriers and cloud data centres.
RESIDENTIAL_FIRST_OCTETS = np.array([24, 49, 58, 67, 68, 71, 73, 77, 81, 86, 90, 92, 98, 109, 151, 176, 188, 201])
MOBILE_FIRST_OCTETS = np.array([37, 39, 100, 166, 174, 178, 212])
DATACENTER_FIRST_OCTETS = np.array([3, 13, 18, 34, 35, 52, 54, 104, 138, 159, 167])


def random_ips(rng: np.random.Generator, n: int, first_octets: np.ndarray) -> np.ndarray:
    """``n`` IPv4 addresses (uint32) whose first octet is drawn from ``first_octets``."""
    first = rng.choice(first_octets, size=n).astype(np.uint32)
    rest = rng.integers(1 << 8, 1 << 24, size=n, dtype=np.uint32)
    return (first << np.uint32(24)) | rest


def other_country(rng: np.random.Generator, home: np.ndarray, attackers: bool) -> np.ndarray:
    """A country different from each ``home``: an attacker country, or another customer country."""
    if attackers:
        return rng.choice(ATTACKER_COUNTRY_CODES, size=len(home)).astype(np.int16)
    shift = rng.integers(1, len(HOME_COUNTRIES), size=len(home))
    return ((home + shift) % len(HOME_COUNTRIES)).astype(np.int16)
