"""Which detector families a sweep may try, and their spaces (owned by ``models.search_space``)."""

from __future__ import annotations

from models.registry import detector_class, detector_names
from models.search_space import SEARCH_SPACES, suggest_params
from tasks.errors import ShopguardError

__all__ = ["LABEL_AWARE_FAMILIES", "LABEL_FREE_FALLBACK", "available_families", "suggest_params"]

# Added to every sweep whose fit days carry enough labelled anomalies (tasks.training.window).
LABEL_AWARE_FAMILIES = ("gradient_boosting", "xgbod")
# Added when the held-out days carry no labels, so nothing can say which family fits this data:
# the fixed label-free ensemble (models.ensemble.LabelFreeDetector) that beats PyOD's ECOD,
# IForest and KNN on the public development sets (make bench-detect).
LABEL_FREE_FALLBACK = ("label_free",)


def available_families(requested: list[str], with_labels: bool = False,
                       label_aware: tuple[str, ...] = LABEL_AWARE_FAMILIES,
                       unlabelled_holdout: bool = False) -> list[str]:
    """The families a sweep may try; a clear error when none can be.

    ``requested`` families that exist and have a search space, plus the ``label_aware`` ones when
    the fit days carry labels (``with_labels``), plus ``LABEL_FREE_FALLBACK`` when the held-out
    days carry none (``unlabelled_holdout``); detectors that learn from labels are never offered
    without them.
    """
    known = set(detector_names()) & set(SEARCH_SPACES)
    candidates = list(dict.fromkeys([*requested, *(label_aware if with_labels else ()),
                                     *(LABEL_FREE_FALLBACK if unlabelled_holdout else ())]))
    families = [name for name in candidates if name in known and (with_labels or not detector_class(name).supervised)]
    if not families:
        raise ShopguardError(f"none of the configured detectors {requested} can be swept; known: {sorted(known)}")
    return families
