"""The label-aware benchmark: both rows on the same labelled split, per-set and mean figures, files written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import bench_detect_labels
from benchmarks.bench_detect_labels import LABEL_AWARE, REFERENCE


def _write_set(path, seed: int) -> None:
    """Normal rows plus anomalies that differ on two of six features: a pattern labels can teach."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 6))
    y = np.zeros(400, dtype=int)
    y[:40] = 1
    X[:40, :2] += rng.uniform(1.5, 3.0, size=(40, 2))
    np.savez(path, X=X, y=y)


def test_both_rows_are_scored_on_every_set_and_written(tmp_path, capsys):
    data = tmp_path / "sets"
    data.mkdir()
    _write_set(data / "1_a.npz", 0)
    _write_set(data / "2_b.npz", 1)
    out = tmp_path / "out"
    assert bench_detect_labels.main(["--data-dir", str(data), "--out", str(out)]) == 0
    result = json.loads((out / "bench_detect_labels.json").read_text())
    assert result["sets"] == 2 and set(result["per_set"]) == {"1_a", "2_b"}
    for row in (REFERENCE, LABEL_AWARE):
        assert 0.8 < result["mean"][row]["roc_auc"] <= 1.0  # the planted pattern is learnable from labels
        assert 0.0 < result["mean"][row]["average_precision"] <= 1.0
    # Neither set is one the defaults were tuned on, so the untuned means are the means.
    assert result["mean_not_tuned_on"] == result["mean"]
    assert "| **mean** |" in (out / "bench_detect_labels.md").read_text()
    ours, ref = result["mean"][LABEL_AWARE], result["mean"][REFERENCE]
    beats = ours["roc_auc"] > ref["roc_auc"] and ours["average_precision"] > ref["average_precision"]
    assert result["label_aware_beats_reference_on_both_means"] is beats
    verdict = "yes" if beats else "NO"
    assert f"beats {REFERENCE} on both means: {verdict}" in capsys.readouterr().out


def test_no_sets_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match="no .npz sets found"):
        bench_detect_labels.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
