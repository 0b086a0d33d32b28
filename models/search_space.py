"""Hyperparameter search spaces per detector, in one place, for any Optuna-like trial.

``suggest_params(name, trial)`` calls ``trial.suggest_int / suggest_float / suggest_categorical``
(duck-typed: models/ does not import optuna) and returns constructor keyword arguments for
``make_detector(name, **params)``. Parameter names are prefixed by the detector name inside the
trial (``"gmm.n_components"``) so one study can mix families without clashes. Threshold
parameters (contamination, percentile) are not searched: they are an alerting policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class TrialLike(Protocol):
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float: ...
    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def _gaussian(t: TrialLike) -> dict[str, Any]:
    return {"covariance": t.suggest_categorical("gaussian.covariance", ["full", "diag"])}


def _gmm(t: TrialLike) -> dict[str, Any]:
    return {"n_components": t.suggest_int("gmm.n_components", 1, 8),
            "covariance_type": t.suggest_categorical("gmm.covariance_type", ["full", "diag"]),
            "reg_covar": t.suggest_float("gmm.reg_covar", 1e-5, 1e-1, log=True)}


def _isolation_forest(t: TrialLike) -> dict[str, Any]:
    return {"n_estimators": t.suggest_int("isolation_forest.n_estimators", 50, 300, step=50),
            "max_samples": t.suggest_categorical("isolation_forest.max_samples", [128, 256, 512, 1024]),
            "max_features": t.suggest_float("isolation_forest.max_features", 0.5, 1.0)}


def _parameter_free(t: TrialLike) -> dict[str, Any]:
    # ECOD/COPOD have no hyperparameters that change their ranking; nothing to search.
    return {}


def _torch_common(prefix: str, t: TrialLike) -> dict[str, Any]:
    return {"hidden_units": t.suggest_categorical(f"{prefix}.hidden_units", [16, 32, 64, 128]),
            "learning_rate": t.suggest_float(f"{prefix}.learning_rate", 1e-4, 1e-2, log=True),
            "weight_decay": t.suggest_float(f"{prefix}.weight_decay", 1e-7, 1e-3, log=True),
            "batch_size": t.suggest_categorical(f"{prefix}.batch_size", [128, 256, 512])}


def _autoencoder(t: TrialLike) -> dict[str, Any]:
    return {**_torch_common("autoencoder", t), "latent_dim": t.suggest_int("autoencoder.latent_dim", 2, 16)}


def _vae(t: TrialLike) -> dict[str, Any]:
    return {**_torch_common("vae", t), "latent_dim": t.suggest_int("vae.latent_dim", 2, 16),
            "beta": t.suggest_float("vae.beta", 0.1, 2.0, log=True)}


def _mlp(t: TrialLike) -> dict[str, Any]:
    return {**_torch_common("mlp", t), "n_layers": t.suggest_int("mlp.n_layers", 1, 3)}


def _boosting(prefix: str, t: TrialLike) -> dict[str, Any]:
    return {"learning_rate": t.suggest_float(f"{prefix}.learning_rate", 0.03, 0.3, log=True),
            "max_leaf_nodes": t.suggest_categorical(f"{prefix}.max_leaf_nodes", [7, 15, 31]),
            "min_samples_leaf": t.suggest_categorical(f"{prefix}.min_samples_leaf", [10, 20, 50]),
            "l2_regularization": t.suggest_float(f"{prefix}.l2_regularization", 1e-4, 10.0, log=True)}


def _gradient_boosting(t: TrialLike) -> dict[str, Any]:
    return _boosting("gradient_boosting", t)


def _xgbod(t: TrialLike) -> dict[str, Any]:
    return _boosting("xgbod", t)


def _ensemble(t: TrialLike) -> dict[str, Any]:
    choice = t.suggest_categorical("ensemble.members", ["ecod+isolation_forest+gaussian",
                                                        "ecod+isolation_forest", "ecod+copod+isolation_forest+gmm"])
    return {"members": choice.split("+")}


def _knn(t: TrialLike) -> dict[str, Any]:
    return {"n_neighbors": t.suggest_int("knn.n_neighbors", 3, 30, log=True),
            "method": t.suggest_categorical("knn.method", ["largest", "mean"])}


def _lof(t: TrialLike) -> dict[str, Any]:
    return {"n_neighbors": t.suggest_int("lof.n_neighbors", 10, 50, log=True)}


def _hbos(t: TrialLike) -> dict[str, Any]:
    return {"n_bins": t.suggest_int("hbos.n_bins", 5, 50, log=True)}


def _cblof(t: TrialLike) -> dict[str, Any]:
    return {"n_clusters": t.suggest_int("cblof.n_clusters", 4, 16)}


def _pca(t: TrialLike) -> dict[str, Any]:
    return {"n_components": t.suggest_float("pca.n_components", 0.5, 0.99)}


SEARCH_SPACES: dict[str, Callable[[TrialLike], dict[str, Any]]] = {
    "gaussian": _gaussian, "gmm": _gmm, "isolation_forest": _isolation_forest,
    "ecod": _parameter_free, "copod": _parameter_free, "autoencoder": _autoencoder, "vae": _vae,
    "mlp": _mlp, "ensemble": _ensemble, "gradient_boosting": _gradient_boosting, "xgbod": _xgbod,
    "knn": _knn, "lof": _lof, "hbos": _hbos, "cblof": _cblof, "pca": _pca,
    # Fixed members and calibration, chosen once on the development sets: nothing to search.
    "label_free": _parameter_free,
}


def suggest_params(name: str, trial: TrialLike) -> dict[str, Any]:
    """Constructor parameters for detector ``name`` drawn from ``trial``."""
    try:
        space = SEARCH_SPACES[name]
    except KeyError:
        raise ValueError(f"no search space for detector {name!r}; known: {', '.join(sorted(SEARCH_SPACES))}") from None
    return space(trial)
