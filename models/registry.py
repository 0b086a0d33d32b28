"""Name -> detector class. Every registered detector is covered by the contract test.

Built-in detectors are imported only when first asked for by name, so loading a saved Gaussian
model never imports torch, and ``detector_names()`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.base import BaseDetector

_REGISTRY: dict[str, type[BaseDetector]] = {}

# name -> module whose import registers it (via @register)
_BUILTIN_MODULES = {
    "autoencoder": "models.autoencoder",
    "vae": "models.autoencoder",
    "cblof": "models.pyod_detectors",
    "copod": "models.ecdf",
    "ecod": "models.ecdf",
    "ensemble": "models.ensemble",
    "gaussian": "models.gaussian",
    "gmm": "models.gaussian",
    "gradient_boosting": "models.gradient_boosting",
    "hbos": "models.pyod_detectors",
    "isolation_forest": "models.iforest",
    "knn": "models.pyod_detectors",
    "label_free": "models.ensemble",
    "lof": "models.pyod_detectors",
    "mlp": "models.mlp",
    "pca": "models.pyod_detectors",
    "xgbod": "models.xgbod",
}


def register(cls: type[BaseDetector]) -> type[BaseDetector]:
    _REGISTRY[cls.name] = cls
    return cls


def detector_names() -> list[str]:
    return sorted(set(_BUILTIN_MODULES) | set(_REGISTRY))


def detector_class(name: str) -> type[BaseDetector]:
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(detector_names())}") from None


def make_detector(name: str, **params: Any) -> BaseDetector:
    return detector_class(name)(**params)
