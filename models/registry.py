"""Name -> detector class. Every registered detector is covered by the contract test."""

from __future__ import annotations

from typing import Any

from models.base import BaseDetector

_REGISTRY: dict[str, type[BaseDetector]] = {}


def register(cls: type[BaseDetector]) -> type[BaseDetector]:
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Imported for their @register side effect, only when the registry is first used.
    import models.iforest  # noqa: F401


def detector_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def detector_class(name: str) -> type[BaseDetector]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def make_detector(name: str, **params: Any) -> BaseDetector:
    return detector_class(name)(**params)
