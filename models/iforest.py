"""Isolation Forest (scikit-learn) behind the shopguard detector contract.

Persistence without pickles: each fitted tree is reduced to scikit-learn's own node table (a plain
structured array) plus the features it was grown on; loading rebuilds ``sklearn.tree._tree.Tree``
objects from those arrays through their public ``__setstate__``. Scoring walks those trees with
``Tree.apply`` (compiled and releases the GIL, so ``n_jobs`` threads score row blocks) and applies
the isolation-forest formula itself, s(x) = 2 ** (-E[h(x)] / c(psi)); ``test_models_exact`` checks
it equals ``-IsolationForest.score_samples``.

Those arrays are scikit-learn's internal node layout, so the saved state records the scikit-learn
version that wrote it and loading refuses (``IncompatibleModelError``) a different major.minor
release; pyproject pins scikit-learn to the release line this was checked against.

Explanation: occlusion (the base default) — the score drop when a feature is set to its median.
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.tree._tree import Tree

from models.base import BaseDetector
from models.registry import register

_EULER_GAMMA = 0.5772156649015329


class IncompatibleModelError(ValueError):
    """A saved model was written by a library release whose saved format this one cannot read."""


def _release_line(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check_saved_sklearn(saved_version: str) -> None:
    """Refuse trees saved by another scikit-learn release line (their node table may differ)."""
    if _release_line(saved_version) != _release_line(sklearn.__version__):
        raise IncompatibleModelError(
            f"isolation forest saved with scikit-learn {saved_version} cannot be loaded with "
            f"scikit-learn {sklearn.__version__}; retrain it or install scikit-learn {_release_line(saved_version)}.*")


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful BST search among n points (Liu et al. 2008)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + _EULER_GAMMA) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _node_depths(tree: Tree) -> np.ndarray:
    depth = np.zeros(tree.node_count, dtype=np.float64)
    left, right = tree.children_left, tree.children_right
    for node in range(tree.node_count):  # parents precede children in scikit-learn's node order
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


@register
class IsolationForestDetector(BaseDetector):
    name = "isolation_forest"

    def __init__(self, n_estimators: int = 200, max_samples: int | float | str = "auto",
                 max_features: float = 1.0, random_state: int = 42, n_jobs: int = 2, **kw):
        super().__init__(**kw)
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        forest = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples,
            max_features=self.max_features, random_state=self.random_state, n_jobs=1,
        ).fit(Z)
        self._adopt([e.tree_ for e in forest.estimators_], [np.asarray(f) for f in forest.estimators_features_],
                    int(forest.max_samples_))

    def _adopt(self, trees: list[Tree], features: list[np.ndarray], max_samples: int) -> None:
        self.trees_ = trees
        self.tree_features_ = features
        self.max_samples_ = max_samples
        # Path length credited to a row that ends in each node: its depth plus c(samples left there).
        self.node_path_lengths_ = [_node_depths(t) + average_path_length(t.n_node_samples) for t in trees]

    def _score_threads(self) -> int:
        return max(1, self.n_jobs)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)  # scikit-learn's trees split float32 inputs
        n_features = Z32.shape[1]
        depths = np.zeros(len(Z32))
        for tree, feats, lengths in zip(self.trees_, self.tree_features_, self.node_path_lengths_, strict=True):
            sub = Z32 if len(feats) == n_features else np.ascontiguousarray(Z32[:, feats])
            depths += lengths.take(tree.apply(sub))
        norm = average_path_length(np.array([self.max_samples_]))[0]
        return 2.0 ** (-(depths / len(self.trees_)) / norm)

    def _get_state(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {"max_samples": np.asarray(self.max_samples_),
                                        "n_trees": np.asarray(len(self.trees_)),
                                        "sklearn_version": np.asarray(sklearn.__version__)}
        for i, (tree, feats) in enumerate(zip(self.trees_, self.tree_features_, strict=True)):
            tree_state = tree.__getstate__()
            state[f"tree{i}_nodes"] = tree_state["nodes"]
            state[f"tree{i}_max_depth"] = np.asarray(tree_state["max_depth"])
            state[f"tree{i}_features"] = feats
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        check_saved_sklearn(str(state["sklearn_version"]) if "sklearn_version" in state else "unknown")
        trees, features = [], []
        for i in range(int(state["n_trees"])):
            nodes = state[f"tree{i}_nodes"]
            feats = state[f"tree{i}_features"]
            tree = Tree(len(feats), np.array([1], dtype=np.intp), 1)
            tree.__setstate__({"max_depth": int(state[f"tree{i}_max_depth"]), "node_count": len(nodes),
                               "nodes": nodes, "values": np.zeros((len(nodes), 1, 1))})
            trees.append(tree)
            features.append(feats)
        self._adopt(trees, features, int(state["max_samples"]))
