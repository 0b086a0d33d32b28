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
from threadpoolctl import threadpool_limits

from models.base import BaseDetector
from models.ensemble import RankEnsembleDetector
from models.gradient_boosting import _OPENMP_THREADS, GradientBoostingDetector
from models.registry import register

MEMBERS_DIR = "members"


@register
class XGBODDetector(GradientBoostingDetector):
    """Gradient boosting on the scaled features plus the scores of unsupervised members.

    ``members``/``member_params`` choose the members as for the rank ensemble (which holds,
    checks and saves them here; its defaults are ECOD, Isolation Forest and Gaussian).
    ``blend_raw``: the score is the mean of this classifier's logit and that of the same
    classifier on the raw features alone. The member scores help where anomalies are unusual in
    many ways at once and cost where the labels already say it all (on the ADBench development
    sets they lifted ROC-AUC but lost average precision on some sets); the blend keeps most of
    both (benchmarks/bench_detect_labels.py).
    """

    name = "xgbod"
    params_missing_from_older_saves = {"blend_raw": False}

    def __init__(self, members: list[str] | None = None, member_params: dict[str, dict[str, Any]] | None = None,
                 blend_raw: bool = True, **kw):
        super().__init__(**kw)
        self.members = members
        self.member_params = member_params
        self.blend_raw = blend_raw

    def _classifier_inputs(self, Z: np.ndarray) -> np.ndarray:
        member_scores = [member.decision_function(Z) for member in self.members_.members_]
        return np.column_stack([Z, *member_scores])

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        self.members_ = RankEnsembleDetector(members=self.members, member_params=self.member_params).fit(Z)
        super()._fit(Z, y)
        self._fit_raw_classifier()

    def _fit_raw_classifier(self) -> None:
        if self.blend_raw:  # the raw features are the first columns of the saved training matrix
            with threadpool_limits(_OPENMP_THREADS, user_api="openmp"):
                self.raw_classifier_ = self._classifier().fit(
                    self.training_inputs_[:, :self.n_features_in_], self.training_labels_)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        score = super()._score(Z)
        if not self.blend_raw:
            return score
        with threadpool_limits(_OPENMP_THREADS, user_api="openmp"):
            return 0.5 * (score + np.asarray(self.raw_classifier_.decision_function(Z), dtype=np.float64))

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        super()._set_state(state)
        self._fit_raw_classifier()

    def _save_extra(self, directory: Path) -> None:
        self.members_.save(directory / MEMBERS_DIR)

    def _load_extra(self, directory: Path) -> None:
        self.members_ = BaseDetector.load(directory / MEMBERS_DIR)
