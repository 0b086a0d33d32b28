"""Label-aware detection on the ADBench development sets: shopguard's label-aware row beside
scikit-learn's HistGradientBoosting alone, on the same split.

    python -m benchmarks.bench_detect_labels                  # all 20 sets
    python -m benchmarks.bench_detect_labels --sets 14_glass,29_Pima --out /tmp/bench-detect-labels

Protocol: the label-free benchmark's split (stratified 70/30, seed 42; benchmarks/bench_detect.py).
Every row fits on the training part WITH its labels and is scored on the test part, whose labels
only compute ROC-AUC and average precision. Both rows see exactly the same rows and labels; no
choice is made on the test part.

Rows:
- ``sklearn hist_gradient_boosting``: ``HistGradientBoostingClassifier(random_state=42)`` with its
  defaults on the raw features: the reference the label-aware row must beat.
- ``shopguard label_aware``: shopguard's ``xgbod`` detector with its defaults: unsupervised member
  scores (fitted on the training rows without labels) as extra features of gradient boosting,
  its logit averaged with that of boosting on the raw features alone (``blend_raw``). The choice
  among the variants tried (plain XGBOD, balanced class weights, smaller leaves, slower learning,
  the blend) was made on the ten sets in ``TUNING_SETS`` (every other sorted file stem); the
  means over the other ten are reported separately.

Writes ``bench_detect_labels.json`` and ``bench_detect_labels.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from benchmarks.bench_detect import DEFAULT_DATA_DIR, markdown_table, means
from models.evaluation import split_protocol
from models.registry import make_detector
from tasks.benchmark_data import load_labelled_table
from tasks.parquet_io import write_text_atomic

log = logging.getLogger(__name__)

REFERENCE = "sklearn hist_gradient_boosting"
LABEL_AWARE = "shopguard label_aware"
# The sets the label-aware defaults were chosen on: every other one of the sorted file stems.
TUNING_SETS = ("12_fault", "18_Ionosphere", "20_letter", "25_musk", "27_PageBlocks", "35_SpamBase",
               "40_vowels", "42_WBC", "44_Wilt", "47_yeast")


def score_set(X: np.ndarray, y: np.ndarray) -> dict[str, dict[str, float]]:
    """{row: {roc_auc, average_precision, seconds}} for one set, both rows on the same labelled split."""
    split = split_protocol(X, y)
    results: dict[str, dict[str, float]] = {}

    def record(row: str, fit_and_score: Callable[[], np.ndarray]) -> None:
        start = time.perf_counter()
        # One OpenMP thread: on a busy shared host OpenMP's spin-waiting makes small fits far slower.
        with threadpool_limits(1, user_api="openmp"):
            scores = np.asarray(fit_and_score(), dtype=np.float64)
        results[row] = {"roc_auc": float(roc_auc_score(split.y_test, scores)),
                        "average_precision": float(average_precision_score(split.y_test, scores)),
                        "seconds": time.perf_counter() - start}

    record(REFERENCE, lambda: HistGradientBoostingClassifier(random_state=42)
           .fit(split.X_train, split.y_train).predict_proba(split.X_test)[:, 1])
    record(LABEL_AWARE, lambda: make_detector("xgbod").fit(split.X_train, split.y_train)
           .decision_function(split.X_test))
    return results


def run(data_dir: Path, set_names: list[str] | None = None) -> dict[str, Any]:
    paths = sorted(data_dir.glob("*.npz"), key=lambda p: p.stem)
    if set_names:
        paths = [p for p in paths if p.stem in set(set_names)]
    if not paths:
        raise SystemExit(f"bench_detect_labels: no .npz sets found in {data_dir}")
    per_set: dict[str, dict[str, dict[str, float]]] = {}
    for path in paths:
        X, y = load_labelled_table(path)
        per_set[path.stem] = score_set(X.to_numpy(), y)
        log.info("%s: %s", path.stem, ", ".join(f"{r}={v['roc_auc']:.3f}/{v['average_precision']:.3f}"
                                              for r, v in per_set[path.stem].items()))
    mean = means(per_set)
    held_out = {s: r for s, r in per_set.items() if s not in TUNING_SETS}
    mean_held_out = means(held_out) if held_out else {}
    ours, ref = mean[LABEL_AWARE], mean[REFERENCE]
    return {"data_dir": str(data_dir), "sets": len(per_set), "per_set": per_set, "mean": mean,
            "mean_not_tuned_on": mean_held_out, "sets_not_tuned_on": sorted(held_out),
            "label_aware_beats_reference_on_both_means": ours["roc_auc"] > ref["roc_auc"]
            and ours["average_precision"] > ref["average_precision"],
            "protocol": "stratified 70/30 split, seed 42; supervised fit on the labelled training part; "
                        "test labels only for metrics"}


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _means_line(title: str, mean: dict[str, dict[str, float]]) -> str:
    return title + ", ".join(f"{r} {v['roc_auc']:.3f}/{v['average_precision']:.3f}" for r, v in mean.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder of ADBench .npz sets")
    parser.add_argument("--sets", help="comma-separated set names (file stems); default all")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/bench-detect-labels"),
                        help="folder for bench_detect_labels.json and bench_detect_labels.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run(args.data_dir, args.sets.split(",") if args.sets else None)
    table = markdown_table(result["per_set"], result["mean"])
    _out(table)
    _out(_means_line("mean ROC-AUC / AP: ", result["mean"]))
    if result["mean_not_tuned_on"]:
        _out(_means_line(f"mean over the {len(result['sets_not_tuned_on'])} sets not tuned on: ",
                         result["mean_not_tuned_on"]))
    _out(f"label_aware beats {REFERENCE} on both means: "
         f"{'yes' if result['label_aware_beats_reference_on_both_means'] else 'NO'}")
    write_text_atomic(args.out / "bench_detect_labels.json", json.dumps(result, indent=2))
    write_text_atomic(args.out / "bench_detect_labels.md", table)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
