"""ECOD and COPOD: parameter-free detectors built on per-feature empirical tail probabilities.

Both follow PyOD's formulas (Li et al., ECOD 2022 / COPOD 2020) re-implemented over numpy so that
the fitted state is a few arrays (per-feature ECDF knots) instead of a copy of the training data:
- U_l = -log P(X_j <= x_j), U_r = -log P(X_j >= x_j) from the training ECDF of feature j, with
  add-one smoothing ((count + 1) / (n + 1)) so no tail probability is zero;
- the skew-corrected tail U_s takes U_l for left-skewed features and U_r for right-skewed ones;
- ECOD: O_j = max(U_l, U_r, U_s); COPOD: O_j = max(U_s, (U_l + U_r) / 2); score = sum_j O_j.

The explanation is exact: feature j contributes O_j, the surprisal of its tail probability.
Unlike PyOD, scoring does not refit the ECDF on training + new rows: new rows are judged
against the training distribution only, so scores do not depend on the batch they arrive in.
With more distinct values than ``max_knots`` a feature's ECDF is kept at evenly spaced order
statistics and interpolated linearly between them (exact when there are fewer).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import skew

from models.base import BaseDetector
from models.registry import register


class _TailModel(BaseDetector):
    """Shared fitting and tail-probability lookup; subclasses combine U_l, U_r and U_s."""

    def __init__(self, max_knots: int = 4096, n_jobs: int = 2, **kw):
        # n_jobs: threads scoring row blocks (numpy's searchsorted and ufuncs release the GIL).
        super().__init__(**kw)
        self.max_knots = max_knots
        self.n_jobs = n_jobs

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        if self.max_knots < 2:
            raise ValueError(f"max_knots must be at least 2, got {self.max_knots}")
        n = len(Z)
        knots, le, lt, offsets = [], [], [], [0]
        for col in Z.T:
            values, counts = np.unique(col, return_counts=True)
            cum_le = np.cumsum(counts)
            keep = np.unique(np.linspace(0, len(values) - 1, min(len(values), self.max_knots)).round().astype(int))
            knots.append(values[keep])
            le.append(cum_le[keep])
            lt.append((cum_le - counts)[keep])
            offsets.append(offsets[-1] + len(keep))
        self.knots_ = np.concatenate(knots)
        self.count_le_ = np.concatenate(le).astype(np.float64)
        self.count_lt_ = np.concatenate(lt).astype(np.float64)
        self.knot_offsets_ = np.asarray(offsets, dtype=np.int64)
        self.n_train_ = np.asarray(n, dtype=np.int64)
        with np.errstate(all="ignore"):
            self.skew_sign_ = np.sign(np.nan_to_num(skew(Z, axis=0)))

    def _tails(self, j: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-log left and right tail probabilities of column j's values ``x``."""
        lo, hi = self.knot_offsets_[j], self.knot_offsets_[j + 1]
        v, cle, clt = self.knots_[lo:hi], self.count_le_[lo:hi], self.count_lt_[lo:hi]
        n = float(self.n_train_)
        # Per knot k: the gap to the next knot and the count rise across it (0 at the last knot),
        # so each row needs one gather per quantity instead of recomputing them from its neighbours.
        gap_after, rise_after = np.zeros_like(v), np.zeros_like(cle)
        gap_after[:-1], rise_after[:-1] = v[1:] - v[:-1], clt[1:] - cle[:-1]
        k = np.searchsorted(v, x, side="right") - 1  # last knot <= x; -1 below the minimum
        kc = np.maximum(k, 0)
        v_k, cle_k, gap = v.take(kc), cle.take(kc), gap_after.take(kc)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(gap > 0, (x - v_k) / gap, 0.0)
        # Linear between knots; on a knot (frac 0) this is its own count, at the last knot it is n.
        count_le = np.where(k < 0, 0.0, cle_k + frac * rise_after.take(kc))
        count_ge = np.where((v_k == x) & (k >= 0), (n - clt).take(kc), n - count_le)
        log_total = np.log(n + 1.0)
        return log_total - np.log1p(count_le), log_total - np.log1p(count_ge)

    def _combine(self, u_left: np.ndarray, u_right: np.ndarray, skew_sign: float) -> np.ndarray:
        raise NotImplementedError

    def _skewed(self, u_left: np.ndarray, u_right: np.ndarray, s: float) -> np.ndarray:
        return u_left if s < 0 else u_right if s > 0 else u_left + u_right

    def _column_terms(self, Z: np.ndarray) -> list[np.ndarray]:
        # Columns of a block, contiguous: a strided column of a 1M-row matrix costs a pass over all of it.
        columns = np.ascontiguousarray(Z.T)
        return [self._combine(*self._tails(j, col), float(self.skew_sign_[j])) for j, col in enumerate(columns)]

    def _score_threads(self) -> int:
        return max(1, self.n_jobs)

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        return np.stack(self._column_terms(Z), axis=1) if Z.shape[1] else np.empty_like(Z)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        total = np.zeros(len(Z))
        for terms in self._column_terms(Z):  # summed in column order, as np.sum(axis=0) would
            total += terms
        return total

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"knots": self.knots_, "count_le": self.count_le_, "count_lt": self.count_lt_,
                "knot_offsets": self.knot_offsets_, "n_train": self.n_train_, "skew_sign": self.skew_sign_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.knots_, self.count_le_, self.count_lt_ = state["knots"], state["count_le"], state["count_lt"]
        self.knot_offsets_, self.n_train_, self.skew_sign_ = state["knot_offsets"], state["n_train"], state["skew_sign"]


@register
class ECODDetector(_TailModel):
    """Empirical-CDF outlier detection: each feature counts with its more extreme tail."""

    name = "ecod"

    def _combine(self, u_left: np.ndarray, u_right: np.ndarray, skew_sign: float) -> np.ndarray:
        return np.maximum(np.maximum(u_left, u_right), self._skewed(u_left, u_right, skew_sign))


@register
class COPODDetector(_TailModel):
    """Copula-based outlier detection: the skew-corrected tail or the two-tail average, whichever is larger."""

    name = "copod"

    def _combine(self, u_left: np.ndarray, u_right: np.ndarray, skew_sign: float) -> np.ndarray:
        return np.maximum(self._skewed(u_left, u_right, skew_sign), 0.5 * (u_left + u_right))
