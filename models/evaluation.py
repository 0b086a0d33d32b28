"""The benchmark protocol, pure: arrays in, result rows out (the CLI's ``benchmark`` wraps it).

Protocol: stratified 70/30 train/test split (seed 42). Unsupervised detectors fit on the training
X only; the supervised ``mlp`` fits on training X and y. Labels of a validation slice carved from
the training part (stratified 25%) set the expected contamination (its anomaly share, which fixes
every detector's threshold for F1) and drive the ``auto`` choice. The test part is used only for
the reported metrics.

Rows say whether they used labels (``uses_labels``): the supervised MLP, ``auto`` (its choice is
made on labels) and the gradient-boosting reference do; ``label_free`` - shopguard's label-free
detector, always reported as its own row - and every other unsupervised row rank without them
(their F1 threshold, like every row's, comes from the slice's anomaly share).

``auto`` is what the project would deploy: the label-free detector unless the validation
slice has enough anomalies to show, with a margin, that another registered detector ranks better
(each candidate is fitted on the training part minus the slice and judged by validation
ROC-AUC); the winner is then refitted on the whole training part. A supervised reference
(scikit-learn's HistGradientBoostingClassifier) is reported beside them for the MLP.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from models.base import BaseDetector
from models.metrics import evaluate_scores
from models.registry import detector_class, make_detector

log = logging.getLogger(__name__)

TEST_SHARE = 0.3
VALIDATION_SHARE = 0.25
SEED = 42
LABEL_FREE = "label_free"
DEFAULT_AUTO = LABEL_FREE
AUTO_CANDIDATES = (LABEL_FREE, "ensemble", "ecod", "isolation_forest", "gaussian", "mlp")  # no autoencoder: see settings
MIN_VALIDATION_POSITIVES = 5  # fewer anomalies than this cannot tell detectors apart: keep the default
AUTO_MARGIN = 0.01            # a candidate must beat the default's validation ROC-AUC by this much
REFERENCE_NAME = "hist_gradient_boosting (reference)"


@dataclass
class BenchmarkRow:
    detector: str
    supervised: bool
    uses_labels: bool
    roc_auc: float
    average_precision: float
    f1: float
    precision: float
    recall: float
    alert_rate: float
    fit_seconds: float
    score_seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    fit_idx: np.ndarray         # rows of the training part outside the validation slice
    validation_idx: np.ndarray  # the validation slice (rows of the training part)

    @property
    def contamination(self) -> float:
        share = float(self.y_train[self.validation_idx].mean()) if len(self.validation_idx) else float(self.y_train.mean())
        return float(np.clip(share, 0.001, 0.45))


def split_protocol(X: np.ndarray, y: np.ndarray, seed: int = SEED) -> Split:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=TEST_SHARE, stratify=y, random_state=seed)
    fit_idx, validation_idx = train_test_split(np.arange(len(y_train)), test_size=VALIDATION_SHARE,
                                               stratify=y_train, random_state=seed)
    return Split(X_train, y_train, X_test, y_test, np.sort(fit_idx), np.sort(validation_idx))


def _fit(detector: BaseDetector, X: np.ndarray, y: np.ndarray) -> BaseDetector:
    return detector.fit(X, y if detector.supervised else None)


def _timed_row(name: str, detector: BaseDetector, split: Split, details: dict[str, Any] | None = None) -> BenchmarkRow:
    start = time.perf_counter()
    _fit(detector, split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.decision_function(split.X_test)
    score_seconds = time.perf_counter() - start
    m = evaluate_scores(split.y_test, scores, detector.threshold_, k=max(1, int(split.y_test.sum())))
    uses_labels = detector.supervised or name == "auto"
    return BenchmarkRow(name, detector.supervised, uses_labels, m["roc_auc"], m["average_precision"], m["f1"], m["precision"],
                        m["recall"], m["alert_rate"], fit_seconds, score_seconds, details or {})


def choose_auto(split: Split, candidates: tuple[str, ...] = AUTO_CANDIDATES) -> tuple[str, dict[str, float]]:
    """The detector ``auto`` deploys, and each candidate's validation ROC-AUC (labels of the slice only)."""
    y_val = split.y_train[split.validation_idx]
    y_fit = split.y_train[split.fit_idx]
    if y_val.sum() < MIN_VALIDATION_POSITIVES:
        return DEFAULT_AUTO, {}
    X_fit, X_val = split.X_train[split.fit_idx], split.X_train[split.validation_idx]
    aucs: dict[str, float] = {}
    for name in candidates:
        if detector_class(name).supervised and y_fit.sum() < 2 * MIN_VALIDATION_POSITIVES:
            continue
        detector = _fit(make_detector(name, contamination=split.contamination), X_fit, y_fit)
        aucs[name] = evaluate_scores(y_val, detector.decision_function(X_val), detector.threshold_, k=1)["roc_auc"]
    best = max(aucs, key=lambda n: aucs[n])
    chosen = best if aucs[best] > aucs.get(DEFAULT_AUTO, -1.0) + AUTO_MARGIN else DEFAULT_AUTO
    return chosen, aucs


def _reference_row(split: Split) -> BenchmarkRow:
    start = time.perf_counter()
    model = HistGradientBoostingClassifier(random_state=SEED).fit(split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.predict_proba(split.X_test)[:, 1]
    score_seconds = time.perf_counter() - start
    threshold = float(np.quantile(model.predict_proba(split.X_train)[:, 1], 1.0 - split.contamination))
    m = evaluate_scores(split.y_test, scores, threshold, k=max(1, int(split.y_test.sum())))
    return BenchmarkRow(REFERENCE_NAME, True, True, m["roc_auc"], m["average_precision"], m["f1"], m["precision"],
                        m["recall"], m["alert_rate"], fit_seconds, score_seconds)


def run_protocol(X: np.ndarray, y: np.ndarray, detectors: list[str], seed: int = SEED,
                 include_reference: bool = True, progress: bool = True) -> list[BenchmarkRow]:
    """Rows for ``detectors`` (plus ``label_free`` if absent), ``auto``, then (optionally) the supervised reference."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    split = split_protocol(X, y, seed)
    rows = []
    names = list(detectors) + ([] if LABEL_FREE in detectors else [LABEL_FREE])
    for name in tqdm(names, desc="detectors", disable=not progress):
        rows.append(_timed_row(name, make_detector(name, contamination=split.contamination), split))
    chosen, validation_aucs = choose_auto(split)
    log.info("auto chose %s (validation ROC-AUC: %s)", chosen, validation_aucs)
    rows.append(_timed_row("auto", make_detector(chosen, contamination=split.contamination), split,
                           {"chosen": chosen, "validation_roc_auc": validation_aucs}))
    if include_reference:
        rows.append(_reference_row(split))
    return rows
