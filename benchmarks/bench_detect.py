"""Label-free detection on the ADBench development sets, beside PyOD's own detectors in the same run.

    python -m benchmarks.bench_detect                       # all 20 sets (a few minutes on 2 cores)
    python -m benchmarks.bench_detect --sets 14_glass,29_Pima --out /tmp/bench-detect

Protocol (the sets' README, ADBench's own): stratified 70/30 split with seed 42, every detector
fitted on the training part WITHOUT labels, scored on the test part; ROC-AUC and average
precision per set and their means. Labels are used only to compute those two metrics.

Rows:
- ``shopguard label_free`` and ``shopguard autoencoder``: shopguard detectors (models/) on the raw
  features; they impute and scale internally as in production.
- ``pyod <name>``: PyOD's detectors with their default parameters on min-max scaled features
  (scaler fitted on the training part), as ADBench runs them: the reference rows.

Writes ``bench_detect.json`` and ``bench_detect.md`` (per-set and mean table) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import MinMaxScaler

from models.evaluation import split_protocol
from models.registry import make_detector
from tasks.benchmark_data import load_labelled_table
from tasks.parquet_io import write_text_atomic

log = logging.getLogger(__name__)

# The repository's sibling folder, as issue 10 names it; override with --data-dir or ADBENCH_DEV_DIR.
DEFAULT_DATA_DIR = Path(os.environ.get("ADBENCH_DEV_DIR", "../shared/benchmarks/adbench-dev"))
SHOPGUARD_ROWS = ("label_free", "autoencoder")
PYOD_ROWS = ("ecod", "iforest", "knn", "copod", "hbos", "lof")
# The rows the label-free detector must beat on both means.
MUST_BEAT = ("pyod ecod", "pyod iforest", "pyod knn")


def _pyod(name: str) -> Any:
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    makers: dict[str, Callable[[], Any]] = {
        "ecod": ECOD, "copod": COPOD, "hbos": HBOS, "knn": KNN, "lof": LOF,
        "iforest": lambda: IForest(random_state=42),
    }
    return makers[name]()


def score_set(X: np.ndarray, y: np.ndarray) -> dict[str, dict[str, float]]:
    """{row: {roc_auc, average_precision, seconds}} for one set under the ADBench protocol."""
    split = split_protocol(X, y)
    scaler = MinMaxScaler().fit(split.X_train)
    X_train_mm, X_test_mm = scaler.transform(split.X_train), scaler.transform(split.X_test)
    results: dict[str, dict[str, float]] = {}

    def record(row: str, fit_and_score: Callable[[], np.ndarray]) -> None:
        start = time.perf_counter()
        scores = np.nan_to_num(np.asarray(fit_and_score(), dtype=np.float64), nan=0.0, posinf=1e300, neginf=-1e300)
        results[row] = {"roc_auc": float(roc_auc_score(split.y_test, scores)),
                        "average_precision": float(average_precision_score(split.y_test, scores)),
                        "seconds": time.perf_counter() - start}

    for name in SHOPGUARD_ROWS:
        record(f"shopguard {name}", lambda name=name: make_detector(name).fit(split.X_train).decision_function(split.X_test))
    for name in PYOD_ROWS:
        record(f"pyod {name}", lambda name=name: _pyod(name).fit(X_train_mm).decision_function(X_test_mm))
    return results


def means(per_set: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    rows = next(iter(per_set.values()))
    return {row: {metric: float(np.mean([s[row][metric] for s in per_set.values()]))
                  for metric in ("roc_auc", "average_precision", "seconds")} for row in rows}


def markdown_table(per_set: dict[str, dict[str, dict[str, float]]], mean: dict[str, dict[str, float]]) -> str:
    rows = list(mean)
    header = "| set | " + " | ".join(rows) + " |"
    lines = [header, "|" + "---|" * (len(rows) + 1)]
    for set_name, result in per_set.items():
        lines.append(f"| {set_name} | " + " | ".join(
            f"{result[r]['roc_auc']:.3f} / {result[r]['average_precision']:.3f}" for r in rows) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"**{mean[r]['roc_auc']:.3f} / {mean[r]['average_precision']:.3f}**" for r in rows) + " |")
    return "\n".join(lines) + "\n\nEach cell: ROC-AUC / average precision on the 30% test part.\n"


def run(data_dir: Path, set_names: list[str] | None = None) -> dict[str, Any]:
    paths = sorted(data_dir.glob("*.npz"), key=lambda p: p.stem)
    if set_names:
        paths = [p for p in paths if p.stem in set(set_names)]
    if not paths:
        raise SystemExit(f"bench_detect: no .npz sets found in {data_dir}")
    per_set: dict[str, dict[str, dict[str, float]]] = {}
    for path in paths:
        X, y = load_labelled_table(path)
        per_set[path.stem] = score_set(X.to_numpy(), y)
        log.info("%s: %s", path.stem, ", ".join(f"{r}={v['roc_auc']:.3f}/{v['average_precision']:.3f}"
                                              for r, v in per_set[path.stem].items()))
    mean = means(per_set)
    label_free = mean["shopguard label_free"]
    beaten = {ref: label_free["roc_auc"] > mean[ref]["roc_auc"] and
              label_free["average_precision"] > mean[ref]["average_precision"] for ref in MUST_BEAT}
    return {"data_dir": str(data_dir), "sets": len(per_set), "per_set": per_set, "mean": mean,
            "label_free_beats_on_both_means": beaten,
            "protocol": "stratified 70/30 split, seed 42; unsupervised fit on the training part; labels only for metrics"}


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder of ADBench .npz sets")
    parser.add_argument("--sets", help="comma-separated set names (file stems); default all")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/bench-detect"),
                        help="folder for bench_detect.json and bench_detect.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run(args.data_dir, args.sets.split(",") if args.sets else None)
    table = markdown_table(result["per_set"], result["mean"])
    _out(table)
    _out("mean ROC-AUC / AP: " + ", ".join(f"{r} {v['roc_auc']:.3f}/{v['average_precision']:.3f}"
                                         for r, v in result["mean"].items()))
    _out("label_free beats on both means: " + ", ".join(f"{r}={'yes' if ok else 'NO'}"
                                                       for r, ok in result["label_free_beats_on_both_means"].items()))
    write_text_atomic(args.out / "bench_detect.json", json.dumps(result, indent=2))
    write_text_atomic(args.out / "bench_detect.md", table)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
