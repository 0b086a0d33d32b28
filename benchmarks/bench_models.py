"""Benchmark the detector library: scoring speed at 1M rows x 40 features, and quality.

    python -m benchmarks.bench_models            # speed + quality (a few minutes on 2 cores)
    python -m benchmarks.bench_models --speed    # speed only
    python -m benchmarks.bench_models --quality  # quality only

Speed: each unsupervised detector is fitted on 50k synthetic rows and times ``decision_function``
on 1M rows x 40 features; the ``ensemble`` (auto's label-free default) is the deployed detector.
The table gives wall and CPU seconds, rows/s, the process's peak RSS while scoring, and each time
relative to a numpy matmul of the same matrix timed just before (comparable across loads), plus
the load average, since the machine is shared.
Quality: the benchmark protocol (models.evaluation) on anomaly sets made from data that ships
with scikit-learn (a minority class subsampled to about 5% as the anomalies) and two synthetic
sets; prints per-set ROC-AUC and the mean per detector, including ``auto``, the MLP and the
gradient-boosting reference.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from models.evaluation import run_protocol
from models.registry import make_detector

log = logging.getLogger(__name__)

SPEED_ROWS, SPEED_FEATURES, SPEED_TRAIN_ROWS = 1_000_000, 40, 50_000
SPEED_DETECTORS = ("ensemble", "ecod", "copod", "isolation_forest", "gaussian", "gmm", "autoencoder", "vae")
QUALITY_DETECTORS = ["ecod", "copod", "isolation_forest", "gaussian", "gmm", "autoencoder", "vae", "mlp", "ensemble"]
ANOMALY_SHARE = 0.05


def minority_as_anomalies(X: np.ndarray, is_anomaly: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep all normal rows and a random 5%-of-total subsample of the anomalous ones."""
    rng = np.random.default_rng(seed)
    normal, anomalous = np.flatnonzero(~is_anomaly), np.flatnonzero(is_anomaly)
    n_keep = max(10, int(round(ANOMALY_SHARE * len(normal) / (1 - ANOMALY_SHARE))))
    keep = np.concatenate([normal, rng.choice(anomalous, size=min(n_keep, len(anomalous)), replace=False)])
    return X[keep], is_anomaly[keep].astype(int)


def synthetic_dependency(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlated normal rows; anomalies keep normal marginals but break the correlations."""
    rng = np.random.default_rng(seed)
    d, n = 12, 3000
    A = rng.normal(size=(d, d))
    cov = A @ A.T / d + 0.1 * np.eye(d)
    normal = rng.multivariate_normal(np.zeros(d), cov, size=n)
    anomalies = rng.normal(size=(n // 19, d)) * np.sqrt(np.diag(cov)) * 1.5
    return np.vstack([normal, anomalies]), np.r_[np.zeros(n), np.ones(len(anomalies))].astype(int)


def synthetic_behaviour(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Count-like heavy-tailed features (events, sessions, amounts); anomalies inflate a few of them."""
    rng = np.random.default_rng(seed)
    n, d = 4000, 20
    X = rng.negative_binomial(3, 0.3, size=(n, d)).astype(float) * rng.lognormal(0, 0.5, size=(1, d))
    y = np.zeros(n, dtype=int)
    idx = rng.choice(n, size=n // 20, replace=False)
    for i in idx:
        cols = rng.choice(d, size=3, replace=False)
        X[i, cols] *= rng.uniform(3, 8, size=3)
    y[idx] = 1
    return X, y


def quality_sets() -> dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]]:
    cancer, wine, digits = load_breast_cancer(), load_wine(), load_digits()
    sets: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "breast_cancer(malignant)": lambda: minority_as_anomalies(cancer.data, cancer.target == 0, 0),
        "wine(class0)": lambda: minority_as_anomalies(wine.data, wine.target == 0, 0),
        "synthetic_dependency": lambda: synthetic_dependency(0),
        "synthetic_behaviour": lambda: synthetic_behaviour(0),
    }
    for digit in (0, 4, 8):
        sets[f"digits({digit})"] = lambda digit=digit: minority_as_anomalies(digits.data, digits.target == digit, digit)
    return sets


def run_quality() -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for set_name, make in quality_sets().items():
        X, y = make()
        rows = run_protocol(X, y, QUALITY_DETECTORS, progress=False)
        table[set_name] = {r.detector: r.roc_auc for r in rows}
        chosen = next(r.details["chosen"] for r in rows if r.detector == "auto")
        log.info("%s: %d rows, %d anomalies; auto -> %s", set_name, len(y), int(y.sum()), chosen)
        _out(f"{set_name:28s} " + " ".join(f"{k.split(' ')[0][:10]}={v:.3f}" for k, v in table[set_name].items()))
    names = list(next(iter(table.values())))
    means = {n: float(np.mean([t[n] for t in table.values()])) for n in names}
    _out("mean ROC-AUC: " + ", ".join(f"{n.split(' ')[0]}={v:.3f}" for n, v in means.items()))
    return means


class PeakRSS:
    """Samples this process's resident set size in a background thread; ``peak_mb`` after the block."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def current_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.current_mb())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak_mb = self.current_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.current_mb())


@dataclass
class SpeedRow:
    detector: str
    fit_seconds: float
    score_seconds: float
    score_cpu_seconds: float
    peak_rss_mb: float
    matmul_ratio: float

    @property
    def rows_per_second(self) -> float:
        return SPEED_ROWS / self.score_seconds


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    cpu, wall = os.times(), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - wall, os.times()
    return wall, (after.user - cpu.user) + (after.system - cpu.system)


def matmul_baseline(X: np.ndarray) -> float:
    """Best of three X @ W (W: 40 x 40) on the same 1M x 40 matrix: the machine's speed right now."""
    W = np.random.default_rng(1).normal(size=(X.shape[1], X.shape[1]))
    return min(timed(lambda: X @ W)[0] for _ in range(3))


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def run_speed() -> list[SpeedRow]:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(SPEED_TRAIN_ROWS, SPEED_FEATURES))
    X = rng.normal(size=(SPEED_ROWS, SPEED_FEATURES))
    _out(f"load average (1/5/15 min) before: {_load()} on {os.cpu_count()} cores")
    rows = []
    for name in SPEED_DETECTORS:
        detector = make_detector(name, epochs=5) if name in ("autoencoder", "vae") else make_detector(name)
        fit_seconds, _ = timed(lambda detector=detector: detector.fit(train))
        baseline = matmul_baseline(X)  # re-measured next to each detector: the load changes
        with PeakRSS() as rss:
            score_seconds, cpu_seconds = timed(lambda detector=detector: detector.decision_function(X))
        rows.append(SpeedRow(name, fit_seconds, score_seconds, cpu_seconds, rss.peak_mb, score_seconds / baseline))
        log.info("%s scored in %.2f s (matmul baseline %.3f s, load %s)", name, score_seconds, baseline, _load())
    _out(f"{'detector':18s} {'fit s':>7s} {'score 1M x 40 s':>16s} {'cpu s':>7s} {'rows/s':>11s} "
         f"{'peak RSS MB':>12s} {'x matmul':>9s}")
    for r in rows:
        _out(f"{r.detector:18s} {r.fit_seconds:7.2f} {r.score_seconds:16.2f} {r.score_cpu_seconds:7.2f} "
             f"{r.rows_per_second:11,.0f} {r.peak_rss_mb:12.0f} {r.matmul_ratio:9.1f}")
    _out(f"load average (1/5/15 min) after: {_load()}; 'x matmul' = score time / a 1M x 40 @ 40 x 40 "
         "numpy matmul timed just before it (steadier than seconds on a shared machine)")
    return rows


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", action="store_true", help="speed only")
    parser.add_argument("--quality", action="store_true", help="quality only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.quality:
        run_speed()
    if not args.speed:
        run_quality()
    return 0


if __name__ == "__main__":
    sys.exit(main())
