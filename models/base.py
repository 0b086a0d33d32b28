"""The detector contract every shopguard model follows (scikit-learn / PyOD conventions).

Subclasses implement ``_fit(Z, y)`` and ``_score(Z)`` on an already-preprocessed float matrix;
everything else (input checking, imputation and scaling, the fitted threshold, predict, explain,
save/load, clone) is derived here. Higher scores are more anomalous.

Preprocessing lives inside the detector so a saved model is self-contained: missing and infinite
values are imputed with the training median, then each feature is robustly scaled
(``(x - median) / (IQR / 1.349)``). ``center_`` therefore holds the training medians in raw units,
which serving quotes as the "usual" value of a feature.

Scoring and explanations run block by block (``SCORE_BLOCK_ROWS`` rows, imputed and scaled per
block), so memory stays bounded on millions of rows; detectors whose ``_score`` releases the GIL
ask for several threads through ``_score_threads``.
"""

from __future__ import annotations

import copy
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
# Rows scored per occlusion batch: bounds memory at about 40 MB for 40 features.
_OCCLUSION_BATCH_ROWS = 131_072
# Rows per scoring block: a block's float64 copy and temporaries stay a few MB (cache-friendly) and
# peak memory does not grow with the batch; every detector's score is row-wise, so blocking
# leaves each row's score unchanged.
SCORE_BLOCK_ROWS = 32_768


class NotFittedError(RuntimeError):
    """Raised when a detector is used before ``fit``."""


class BaseDetector(ABC):
    """Abstract anomaly detector.

    Parameters common to all detectors (subclasses accept them as keyword arguments and pass
    them to ``super().__init__``):

    threshold_percentile: the training-score percentile used as ``threshold_`` (95/99 in the
        research). Ignored when ``contamination`` is given.
    contamination: expected share of anomalies; sets the threshold at the (1 - c) quantile of
        the training scores, so about that share of the training rows is flagged.
    scaling: "robust" divides each feature by IQR / 1.349 (std, then 1, for near-constant
        features); "standard" by its standard deviation. Distance-based detectors need
        "standard" when features are near-binary: a tiny IQR blows such a feature up until it
        dominates every distance.
    """

    name: ClassVar[str] = "base"
    # Parameters added after models were saved without them, with the value that reproduces how
    # those older saves scored (a saved threshold belongs to those scores).
    params_missing_from_older_saves: ClassVar[dict[str, Any]] = {}
    supervised: ClassVar[bool] = False

    def __init__(self, threshold_percentile: float = 99.0, contamination: float | None = None,
                 scaling: str = "robust"):
        self.threshold_percentile = threshold_percentile
        self.contamination = contamination
        self.scaling = scaling

    # -- scikit-learn plumbing -------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        names: list[str] = []
        for klass in cls.__mro__:
            if klass is object or "__init__" not in klass.__dict__:
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in names:
                    names.append(p.name)
        return names

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self._param_names()}

    def set_params(self, **params: Any) -> BaseDetector:
        for k, v in params.items():
            if k not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def clone(self) -> BaseDetector:
        """An unfitted copy with the same parameters (callables such as hooks are shared, not copied)."""
        params = {k: v if callable(v) else copy.deepcopy(v) for k, v in self.get_params().items()}
        return type(self)(**params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- input handling --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    def _as_matrix(self, X: Any, reset: bool) -> tuple[np.ndarray, list[str] | None]:
        if isinstance(X, pd.DataFrame):
            if not reset and list(map(str, X.columns)) != list(self.feature_names_in_):
                missing = [n for n in self.feature_names_in_ if n not in set(map(str, X.columns))]
                if missing:
                    raise ValueError(f"X lacks {len(missing)} fitted feature(s): {', '.join(missing[:5])}")
                X = X.rename(columns=str)[list(self.feature_names_in_)]  # extra columns are ignored
            try:
                arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
                raise ValueError(f"non-numeric feature column(s): {', '.join(bad[:5])}") from None
            return arr, [str(c) for c in X.columns]
        arr = np.asarray(X)
        if arr.dtype.kind not in "fiub":  # numeric arrays stay as they are: blocks convert to float64
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError("X must be a numeric matrix") from None
        return arr, None

    def _checked_matrix(self, X: Any, reset: bool) -> np.ndarray:
        """DataFrame/array -> numeric 2-D matrix (raw units) with the fitted feature count."""
        arr, names = self._as_matrix(X, reset)
        if arr.ndim != 2:
            raise ValueError(f"expected a 2-D feature matrix, got shape {arr.shape}")
        if reset:
            arr = np.asarray(arr, dtype=np.float64)
            if arr.shape[0] < 2:
                raise ValueError("need at least 2 rows to fit a detector")
            if arr.shape[1] < 1:
                raise ValueError("need at least 1 feature to fit a detector")
            self.n_features_in_ = arr.shape[1]
            self.feature_names_in_ = names or [f"x{i}" for i in range(arr.shape[1])]
            finite = np.isfinite(arr)
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(finite, arr, np.nan), axis=0)
            self.center_ = np.where(np.isfinite(med), med, 0.0)
            filled = np.where(finite, arr, self.center_)
            q75, q25 = np.percentile(filled, [75, 25], axis=0)
            spread = q75 - q25
            std = filled.std(axis=0)
            # IQR is robust; fall back to the std (then 1) for near-constant features.
            robust = spread / 1.349 if self.scaling == "robust" else np.zeros_like(spread)
            self.scale_ = np.where(robust > 1e-12, robust, np.where(std > 1e-12, std, 1.0))
        elif arr.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {arr.shape[1]} features, the detector was fitted on {self.n_features_in_}")
        return arr

    def _prepare(self, X: Any, reset: bool) -> np.ndarray:
        """DataFrame/array -> float64 matrix with training medians imputed and robust scaling."""
        return self._transform(self._checked_matrix(X, reset))

    def _transform(self, arr: np.ndarray) -> np.ndarray:
        """Impute non-finite values with the training medians, then robustly scale (float64)."""
        arr = np.asarray(arr, dtype=np.float64)
        arr = np.where(np.isfinite(arr), arr, self.center_)
        return (arr - self.center_) / self.scale_

    # -- block-wise evaluation ---------------------------------------------------------------
    def _score_threads(self) -> int:
        """Threads that score row blocks concurrently (numpy and compiled trees release the GIL).

        Detectors whose ``_score`` is already multi-threaded (BLAS-heavy, torch) keep 1.
        """
        return 1

    def _map_blocks(self, fn: Callable[[np.ndarray], np.ndarray], A: np.ndarray, raw: bool) -> np.ndarray:
        """``fn`` over row blocks of ``A`` (raw rows are imputed and scaled per block), concatenated."""
        def run(start: int) -> np.ndarray:
            block = A[start:start + SCORE_BLOCK_ROWS]
            return np.asarray(fn(self._transform(block) if raw else block), dtype=np.float64)

        starts = range(0, len(A), SCORE_BLOCK_ROWS)
        threads = min(self._score_threads(), len(starts))
        if len(starts) <= 1:
            return run(0)
        if threads <= 1:
            return np.concatenate([run(start) for start in starts])
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return np.concatenate(list(pool.map(run, starts)))

    # -- the abstract surface ---------------------------------------------------------------
    @abstractmethod
    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        """Learn from the preprocessed matrix ``Z`` (and labels where supervised)."""

    @abstractmethod
    def _score(self, Z: np.ndarray) -> np.ndarray:
        """Anomaly scores for preprocessed rows; higher = more anomalous."""

    # -- derived behaviour -----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        if self.contamination is not None and not 0.0 < self.contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {self.contamination}")
        if self.scaling not in ("robust", "standard"):
            raise ValueError(f"scaling must be 'robust' or 'standard', got {self.scaling!r}")
        if not 0.0 < self.threshold_percentile < 100.0:
            raise ValueError(f"threshold_percentile must be in (0, 100), got {self.threshold_percentile}")
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)  # refitting starts from scratch
        Z = self._prepare(X, reset=True)
        y_arr = None if y is None else np.asarray(y).astype(int).ravel()
        if self.supervised:
            if y_arr is None:
                raise ValueError(f"{type(self).__name__} is supervised and needs labels y")
            if len(y_arr) != len(Z):
                raise ValueError(f"y has {len(y_arr)} labels for {len(Z)} rows")
            if not set(np.unique(y_arr)) <= {0, 1} or y_arr.min() == y_arr.max():
                raise ValueError("y must contain both classes 0 (normal) and 1 (anomaly)")
        self._fit(Z, y_arr)
        train_scores = self._map_blocks(self._score, Z, raw=False)
        self.threshold_ = self._threshold_from(train_scores)
        return self

    def _threshold_from(self, scores: np.ndarray) -> float:
        if self.contamination is not None:
            return float(np.quantile(scores, 1.0 - self.contamination))
        return float(np.percentile(scores, self.threshold_percentile))

    def decision_function(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return self._map_blocks(self._score, self._checked_matrix(X, reset=False), raw=True)

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(int)

    def feature_contributions(self, X: Any) -> np.ndarray:
        """Per-row, per-feature contribution to the score (n_rows x n_features).

        Default (documented) method: occlusion — how much the score drops when that one feature
        is replaced by its training median. Detectors with an exact decomposition override it.
        """
        self._check_fitted()
        return self._map_blocks(self._contributions, self._checked_matrix(X, reset=False), raw=True)

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        n, d = Z.shape
        out = np.empty_like(Z)
        rows_per_batch = max(1, _OCCLUSION_BATCH_ROWS // d)
        for start in range(0, n, rows_per_batch):
            block = Z[start:start + rows_per_batch]
            m = len(block)
            base = self._score(block)
            # All d occluded copies scored in one call: far fewer model calls than a loop per feature.
            occluded = np.repeat(block[None, :, :], d, axis=0)
            occluded[np.arange(d), :, np.arange(d)] = 0.0  # 0 is the training median after centring
            scores = self._score(occluded.reshape(d * m, d)).reshape(d, m)
            out[start:start + m] = (base[None, :] - scores).T
        return out

    def explain(self, X: Any, top_k: int = 3) -> pd.DataFrame:
        """Top-k contributing features per row: columns feature_1..k and contribution_1..k."""
        contrib = self.feature_contributions(X)
        k = min(top_k, contrib.shape[1])
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        names = np.asarray(self.feature_names_in_)
        data: dict[str, Any] = {}
        for i in range(k):
            data[f"feature_{i + 1}"] = names[order[:, i]]
            data[f"contribution_{i + 1}"] = np.take_along_axis(contrib, order[:, i : i + 1], axis=1)[:, 0]
        return pd.DataFrame(data)

    # -- persistence -----------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays beyond the base ones; override together with ``_set_state``."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``_get_state`` returned; detectors without extra arrays need nothing."""
        return None

    def _save_extra(self, directory: Path) -> None:
        """Hook for state that is not a plain array (e.g. a torch state_dict, member detectors)."""
        return None

    def _load_extra(self, directory: Path) -> None:
        """Counterpart of ``_save_extra``."""
        return None

    def _persisted_params(self) -> dict[str, Any]:
        # Callables (training hooks) are run-time wiring, not model parameters: saved as None.
        return {k: None if callable(v) else v for k, v in self.get_params().items()}

    def save(self, directory: str | Path) -> Path:
        """Write parameters and fitted state as JSON + ``state.npz`` (no pickles) into ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "detector": self.name,
            "params": self._persisted_params(),
            "threshold": self.threshold_,
            "feature_names": list(self.feature_names_in_),
        }
        state = {"center_": self.center_, "scale_": self.scale_}
        state.update({f"state__{k}": np.asarray(v) for k, v in self._get_state().items()})
        np.savez(directory / "state.npz", **state)
        self._save_extra(directory)
        # Written last: a directory without detector.json is an incomplete save and will not load.
        (directory / "detector.json").write_text(json.dumps(meta, indent=2, default=float))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> BaseDetector:
        from models.registry import detector_class

        directory = Path(directory)
        meta_path = directory / "detector.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no saved detector in {directory} (detector.json missing)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported detector format {meta.get('format_version')!r} in {directory}")
        klass = detector_class(meta["detector"]) if cls is BaseDetector else cls
        if klass.name != meta["detector"]:
            raise ValueError(f"{directory} holds a {meta['detector']!r} detector, not {klass.name!r}")
        det = klass(**{**klass.params_missing_from_older_saves, **meta["params"]})
        det.feature_names_in_ = list(meta["feature_names"])
        det.n_features_in_ = len(meta["feature_names"])
        with np.load(directory / "state.npz", allow_pickle=False) as npz:
            det.center_ = npz["center_"]
            det.scale_ = npz["scale_"]
            det._set_state({k[len("state__"):]: npz[k] for k in npz.files if k.startswith("state__")})
        det._load_extra(directory)
        det.threshold_ = float(meta["threshold"])
        return det
