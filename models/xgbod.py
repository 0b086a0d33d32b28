"""XGBOD-style hybrid: unsupervised detector scores as extra features of a gradient-boosted classifier.

Zhao & Hryniewicki (2018): outlier scores of unsupervised detectors are features a supervised
model can combine with the raw ones. They help where the labels are few or a fraud kind shows up
as "unusual in many ways at once" rather than on a single feature.

The members are fitted, without labels, on all of the classifier's training rows (anomalies
included, as in XGBOD): they see training and scored rows the same way, so a member score means
the same thing when the classifier learns from it and when it serves. The classifier is this
package's ``gradient_boosting`` detector (same persistence: its training matrix, here including
the member-score columns, is saved and refitted exactly on load); the members are saved in
``members/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.base import BaseDetector
from models.ensemble import RankEnsembleDetector
from models.gradient_boosting import GradientBoostingDetector
from models.registry import register

MEMBERS_DIR = "members"


@register
class XGBODDetector(GradientBoostingDetector):
    """Gradient boosting on the scaled features plus the scores of unsupervised members.

    ``members``/``member_params`` choose the members as for the rank ensemble (which holds,
    checks and saves them here; its defaults are ECOD, Isolation Forest and Gaussian).
    """

    name = "xgbod"

    def __init__(self, members: list[str] | None = None, member_params: dict[str, dict[str, Any]] | None = None,
                 **kw):
        super().__init__(**kw)
        self.members = members
        self.member_params = member_params

    def _classifier_inputs(self, Z: np.ndarray) -> np.ndarray:
        member_scores = [member.decision_function(Z) for member in self.members_.members_]
        return np.column_stack([Z, *member_scores])

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        self.members_ = RankEnsembleDetector(members=self.members, member_params=self.member_params).fit(Z)
        super()._fit(Z, y)

    def _save_extra(self, directory: Path) -> None:
        self.members_.save(directory / MEMBERS_DIR)

    def _load_extra(self, directory: Path) -> None:
        self.members_ = BaseDetector.load(directory / MEMBERS_DIR)
