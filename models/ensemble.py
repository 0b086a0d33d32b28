"""Score-averaging ensembles of unsupervised detectors; none of them needs labels.

``ensemble``: each member's raw score is mapped to its rank among the member's own training
scores (a calibrated 0..1 scale; see ``RankCalibrator``), and the ensemble score is the mean rank.
``label_free``: shopguard's label-free detector of choice. Each member's score is standardised by
the mean and standard deviation of its training scores (``ZScoreCalibrator``) and the
standardised scores are averaged. Unlike ranks, z-scores keep how far past the bulk a row lies,
so a member that is sure about a row outvotes members that merely find it above their median;
on the 20 ADBench development sets this beat rank averaging on both ROC-AUC and AP, and beat
weighting members by their agreement with the consensus (benchmarks/bench_detect.py).

Members with different scales (log-densities, path lengths, distances) thus vote on one scale.
The members are fitted on the ensemble's scaled features.

Explanation: calibrated-score-weighted average of the members' explanations. Each member's
per-row contributions are normalised to shares of that row's positive contribution mass, then
weighted by the member's calibrated score for the row (negative ones count as 0), so the members
that find the row unusual explain it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from models.base import BaseDetector
from models.registry import detector_class, register

DEFAULT_MEMBERS = ("ecod", "isolation_forest", "gaussian")
DEFAULT_MEMBER_PARAMS: dict[str, dict[str, Any]] = {"isolation_forest": {"n_estimators": 100}}
# Fixed across data sets (no per-set choice): strong, diverse families (neighbour distance, local
# density, per-feature histograms, cluster distance, isolation), chosen on the development sets.
LABEL_FREE_MEMBERS = ("isolation_forest", "knn", "lof", "hbos", "cblof")
LABEL_FREE_MEMBER_PARAMS: dict[str, dict[str, Any]] = {"isolation_forest": {"n_estimators": 100}}


class Calibrator(Protocol):
    """Maps one member's raw scores onto the ensemble's common scale; ``state`` is its one array."""

    state: np.ndarray

    def transform(self, scores: np.ndarray) -> np.ndarray: ...


class RankCalibrator:
    """Maps scores to their training rank in [0, 1] via a quantile grid, linear past the maximum.

    Past the largest training score the rank keeps growing with the slope of the top 1% so rows
    more extreme than anything seen in training remain ordered (the ensemble must still rank them).
    """

    def __init__(self, quantiles: np.ndarray):
        self.state = self.quantiles = quantiles
        self.levels = np.linspace(0.0, 1.0, len(quantiles))

    @classmethod
    def fit(cls, scores: np.ndarray, n_knots: int = 1001) -> RankCalibrator:
        return cls(np.quantile(scores, np.linspace(0.0, 1.0, n_knots)))

    def transform(self, scores: np.ndarray) -> np.ndarray:
        q = self.quantiles
        rank = np.interp(scores, q, self.levels)
        top = q[-1] - q[int(0.99 * (len(q) - 1))]
        beyond = scores > q[-1]
        if top > 0 and beyond.any():
            rank[beyond] = 1.0 + 0.01 * (scores[beyond] - q[-1]) / top
        return rank


class ZScoreCalibrator:
    """(score - mean) / std of the member's training scores; ``state`` is [mean, std]."""

    def __init__(self, state: np.ndarray):
        self.state = state

    @classmethod
    def fit(cls, scores: np.ndarray) -> ZScoreCalibrator:
        std = float(scores.std())
        return cls(np.array([float(scores.mean()), std if std > 1e-12 else 1.0]))

    def transform(self, scores: np.ndarray) -> np.ndarray:
        return (scores - self.state[0]) / self.state[1]


@register
class RankEnsembleDetector(BaseDetector):
    """Mean training-rank of several unsupervised detectors (default ECOD + Isolation Forest + Gaussian)."""

    name = "ensemble"
    calibrator: ClassVar[type[RankCalibrator] | type[ZScoreCalibrator]] = RankCalibrator
    default_members: ClassVar[tuple[str, ...]] = DEFAULT_MEMBERS
    default_member_params: ClassVar[dict[str, dict[str, Any]]] = DEFAULT_MEMBER_PARAMS

    def __init__(self, members: list[str] | None = None, member_params: dict[str, dict[str, Any]] | None = None, **kw):
        super().__init__(**kw)
        self.members = members
        self.member_params = member_params

    def _member_specs(self) -> list[tuple[str, dict[str, Any]]]:
        names = list(self.members) if self.members else list(self.default_members)
        params = self.default_member_params if self.member_params is None else self.member_params
        specs = []
        for name in names:
            klass = detector_class(name)
            if klass.supervised or issubclass(klass, RankEnsembleDetector):
                raise ValueError(f"ensemble members must be unsupervised detectors, got {name!r}")
            specs.append((name, dict(params.get(name, {}))))
        if not specs:
            raise ValueError("ensemble needs at least one member")
        return specs

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        self.members_ = [detector_class(name)(**params).fit(Z) for name, params in self._member_specs()]
        self.calibrators_: list[Calibrator] = [self.calibrator.fit(m.decision_function(Z)) for m in self.members_]

    def _score_threads(self) -> int:
        # Blocks of the ensemble's own prepared rows go straight to the members' single-block
        # scoring, so the members' threads are used here, once, rather than nested.
        return min(m._score_threads() for m in self.members_)

    def _member_ranks(self, Z: np.ndarray) -> np.ndarray:
        """Calibrated member scores (members x rows): ranks, or z-scores for ``label_free``."""
        # Equal to c.transform(m.decision_function(Z)) for a block of Z, without re-checking the input.
        return np.stack([c.transform(m._score(m._transform(Z)))
                         for m, c in zip(self.members_, self.calibrators_, strict=True)])

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._member_ranks(Z).mean(axis=0)

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        ranks = self._member_ranks(Z)
        out = np.zeros_like(Z)
        for member, rank in zip(self.members_, ranks, strict=True):
            contrib = np.maximum(member._contributions(member._transform(Z)), 0.0)
            mass = contrib.sum(axis=1, keepdims=True)
            shares = np.divide(contrib, mass, out=np.zeros_like(contrib), where=mass > 0)
            out += np.maximum(rank, 0.0)[:, None] * shares
        return out / len(self.members_)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {f"calibrator{i}": c.state for i, c in enumerate(self.calibrators_)}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.calibrators_ = [self.calibrator(state[f"calibrator{i}"]) for i in range(len(state))]

    def _save_extra(self, directory: Path) -> None:
        for i, member in enumerate(self.members_):
            member.save(directory / f"member{i}")

    def _load_extra(self, directory: Path) -> None:
        self.members_ = [BaseDetector.load(directory / f"member{i}") for i in range(len(self.calibrators_))]


@register
class LabelFreeDetector(RankEnsembleDetector):
    """Mean z-scored member score of five fixed, diverse detectors: shopguard's label-free choice."""

    name = "label_free"
    calibrator = ZScoreCalibrator
    default_members = LABEL_FREE_MEMBERS
    default_member_params = LABEL_FREE_MEMBER_PARAMS

    def _member_specs(self) -> list[tuple[str, dict[str, Any]]]:
        # Members see standard-scaled features (see BaseDetector's ``scaling``): on the development
        # sets robust scaling let near-binary features dominate the neighbour distances.
        return [(name, {"scaling": "standard", **params}) for name, params in super()._member_specs()]
