"""Density detectors: a single Gaussian (S = -log f(x)) and a Gaussian mixture (scikit-learn).

Explanations follow the score's terms:
- ``covariance="diag"``: S = sum_j [z_j^2 / 2 + log sigma_j + log(2 pi) / 2], one term per feature.
- ``covariance="full"``: S = d^T P d / 2 + log det(2 pi Sigma) / 2 with d = x - mu, P = Sigma^-1.
  Feature j gets d_j (P d)_j / 2 (its share of the Mahalanobis term, which accounts for the
  correlations) plus an equal share of the constant; the terms sum to S exactly.
- mixture: the Mahalanobis split d_j (P d)_j / 2 under the row's most responsible component. The
  component's normalising constant and weight are left out, so these terms rank the features but
  do not sum to the score (the one explanation here that is not an exact decomposition).
"""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture

from models.base import BaseDetector
from models.registry import register

_LOG_2PI = float(np.log(2.0 * np.pi))
_MIN_VARIANCE = 1e-6


@register
class GaussianDetector(BaseDetector):
    """Gaussian density on the scaled features; ``covariance`` is "full" (Ledoit-Wolf shrunk) or "diag"."""

    name = "gaussian"

    def __init__(self, covariance: str = "full", **kw):
        super().__init__(**kw)
        self.covariance = covariance

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        if self.covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {self.covariance!r}")
        self.mean_ = Z.mean(axis=0)
        if self.covariance == "diag":
            cov = np.diag(np.maximum(Z.var(axis=0), _MIN_VARIANCE))
        else:
            # Shrinkage keeps the covariance well conditioned with few rows or collinear features.
            cov = LedoitWolf(assume_centered=False).fit(Z).covariance_
            cov = cov + _MIN_VARIANCE * np.eye(len(cov))
        self.precision_ = np.linalg.inv(cov)
        _, logdet = np.linalg.slogdet(cov)
        self.log_norm_ = np.asarray(0.5 * (len(cov) * _LOG_2PI + logdet))

    def _terms(self, Z: np.ndarray) -> np.ndarray:
        d = Z - self.mean_
        if self.covariance == "diag":
            precision = np.diag(self.precision_)
            return 0.5 * d * d * precision + 0.5 * (_LOG_2PI - np.log(precision))
        return 0.5 * d * (d @ self.precision_) + float(self.log_norm_) / Z.shape[1]

    def _score(self, Z: np.ndarray) -> np.ndarray:
        d = Z - self.mean_
        if self.covariance == "diag":
            mahal = (d * d) @ np.diag(self.precision_)
        else:
            mahal = np.einsum("ij,ij->i", d @ self.precision_, d)
        return 0.5 * mahal + float(self.log_norm_)

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        return self._terms(Z)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "precision": self.precision_, "log_norm": self.log_norm_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_, self.precision_, self.log_norm_ = state["mean"], state["precision"], state["log_norm"]


@register
class GMMDetector(BaseDetector):
    """Gaussian mixture (scikit-learn ``GaussianMixture``); score = -log p(x)."""

    name = "gmm"

    def __init__(self, n_components: int = 4, covariance_type: str = "full", reg_covar: float = 1e-4,
                 random_state: int = 42, **kw):
        super().__init__(**kw)
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.random_state = random_state

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        if self.covariance_type not in ("full", "diag"):
            raise ValueError(f"covariance_type must be 'full' or 'diag', got {self.covariance_type!r}")
        self.mixture_ = GaussianMixture(
            n_components=min(self.n_components, len(Z)), covariance_type=self.covariance_type,
            reg_covar=self.reg_covar, random_state=self.random_state, n_init=1, max_iter=200,
        ).fit(Z)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return -self.mixture_.score_samples(Z)

    def _full_precisions(self) -> np.ndarray:
        chol = self.mixture_.precisions_cholesky_
        if self.covariance_type == "diag":
            return np.stack([np.diag(c**2) for c in chol])
        return np.einsum("kij,klj->kil", chol, chol)

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        component = self.mixture_.predict(Z)
        d = Z - self.mixture_.means_[component]
        precisions = self._full_precisions()
        out = np.empty_like(Z)
        for k in np.unique(component):
            rows = component == k
            out[rows] = 0.5 * d[rows] * (d[rows] @ precisions[k])
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        m = self.mixture_
        return {"weights": m.weights_, "means": m.means_, "covariances": m.covariances_,
                "precisions_cholesky": m.precisions_cholesky_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        # A GaussianMixture is fully described by these arrays; rebuilding it avoids pickling.
        m = GaussianMixture(n_components=len(state["weights"]), covariance_type=self.covariance_type,
                            reg_covar=self.reg_covar, random_state=self.random_state)
        m.weights_, m.means_ = state["weights"], state["means"]
        m.covariances_, m.precisions_cholesky_ = state["covariances"], state["precisions_cholesky"]
        if self.covariance_type == "full":
            m.precisions_ = np.einsum("kij,klj->kil", m.precisions_cholesky_, m.precisions_cholesky_)
        else:
            m.precisions_ = m.precisions_cholesky_**2
        m.converged_, m.n_iter_, m.lower_bound_ = True, 0, float("nan")
        m.n_features_in_ = m.means_.shape[1]
        self.mixture_ = m
