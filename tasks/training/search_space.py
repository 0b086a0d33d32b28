"""Which detector families a sweep may try, and their spaces (owned by ``models.search_space``)."""

from __future__ import annotations

from models.registry import detector_names
from models.search_space import SEARCH_SPACES, suggest_params
from tasks.errors import ShopguardError

__all__ = ["available_families", "suggest_params"]


def available_families(requested: list[str]) -> list[str]:
    """The requested families that exist and have a search space; a clear error when none does."""
    known = set(detector_names()) & set(SEARCH_SPACES)
    families = [name for name in requested if name in known]
    if not families:
        raise ShopguardError(f"none of the configured detectors {requested} can be swept; known: {sorted(known)}")
    return families
