"""``shopguard benchmark`` end to end: file formats, the protocol's rows, JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from flows.benchmark import run_benchmark
from flows.cli import main
from models.evaluation import choose_auto, split_protocol
from tasks.benchmark_data import BenchmarkDataError, load_labelled_table

FAST = ["ecod", "gaussian"]


def _table(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.zeros(n, dtype=int)
    y[: n // 20] = 1
    X[: n // 20] += rng.choice([-1, 1], size=(n // 20, 5)) * 4.0
    return X, y


@pytest.fixture
def tables(tmp_path):
    X, y = _table()
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(5)]).assign(label=y)
    np.savez(tmp_path / "t.npz", X=X, y=y)
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    return tmp_path


@pytest.mark.parametrize("filename", ["t.npz", "t.csv", "t.parquet"])
def test_every_format_loads_to_the_same_table(tables, filename):
    X, y = load_labelled_table(tables / filename, label_col="label")
    expected_X, expected_y = _table()
    np.testing.assert_allclose(X.to_numpy(), expected_X)
    np.testing.assert_array_equal(y, expected_y)


def test_benchmark_prints_table_writes_json_and_adds_label_free_and_auto(tables, capsys):
    out = tables / "results" / "r.json"
    run_benchmark(tables / "t.csv", label_col="label", detectors=FAST, out=out)
    result = json.loads(out.read_text())
    names = [r["detector"] for r in result["results"]]
    assert names[:4] == ["ecod", "gaussian", "label_free", "auto"] and "reference" in names[4]
    uses_labels = {r["detector"]: r["uses_labels"] for r in result["results"]}
    assert not uses_labels["label_free"] and not uses_labels["ecod"] and uses_labels["auto"] and uses_labels[names[4]]
    for row in result["results"]:
        assert 0.5 < row["roc_auc"] <= 1.0 and row["fit_seconds"] >= 0 and row["score_seconds"] >= 0
        assert {"average_precision", "f1"} <= set(row)
    auto = result["results"][3]
    assert auto["details"]["chosen"] in auto["details"]["validation_roc_auc"] or not auto["details"]["validation_roc_auc"]
    printed = capsys.readouterr().out
    assert "ROC-AUC" in printed and "auto -> " in printed


def test_auto_uses_only_the_training_part():
    X, y = _table(n=600)
    split = split_protocol(X, y)
    assert len(split.y_test) == 180 and split.y_test.sum() == 9  # stratified 70/30
    assert set(split.fit_idx).isdisjoint(split.validation_idx)
    assert len(split.fit_idx) + len(split.validation_idx) == len(split.y_train)
    chosen, aucs = choose_auto(split, candidates=("ensemble", "gaussian"))
    assert chosen in ("ensemble", "gaussian") and set(aucs) == {"ensemble", "gaussian"}


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.with_suffix(".csv").write_text("a,b\n1,2\n3,4\n") and p.with_suffix(".csv"), "no label column 'y'"),
    (lambda p: p.with_suffix(".npz").write_bytes(b"not a zip") and p.with_suffix(".npz"), "not a readable .npz"),
    (lambda p: p.with_suffix(".parquet").write_bytes(b"garbage") and p.with_suffix(".parquet"), "not a readable .parquet"),
    (lambda p: p.with_suffix(".txt").write_text("x") and p.with_suffix(".txt"), "unsupported file type .txt"),
    (lambda p: (np.savez(p.with_suffix(".npz"), X=np.ones((30, 2))), p.with_suffix(".npz"))[1], "lacks array(s) y"),
    (lambda p: (pd.DataFrame({"a": range(30), "y": [2] * 30}).to_csv(p.with_suffix(".csv"), index=False),
                p.with_suffix(".csv"))[1], "labels must be 0/1"),
    (lambda p: (pd.DataFrame({"a": ["u"] * 30, "y": [0, 1] * 15}).to_csv(p.with_suffix(".csv"), index=False),
                p.with_suffix(".csv"))[1], "non-numeric feature column(s) a"),
])
def test_bad_files_end_in_one_line_errors(tmp_path, make, message):
    path = make(tmp_path / "bad")
    before = path.read_bytes()
    with pytest.raises(BenchmarkDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_labelled_table(path)
    assert path.read_bytes() == before  # raw data never modified


def test_cli_benchmark_success_and_failure(tables, capsys):
    data_dir = ["--data-dir", str(tables / "data")]  # never the repo's ./data
    assert main([*data_dir, "benchmark", "--data", str(tables / "t.npz"), "--detectors", "ecod",
                 "--out", str(tables / "cli.json")]) == 0
    assert json.loads((tables / "cli.json").read_text())["anomalies"] == 20
    capsys.readouterr()
    assert main([*data_dir, "benchmark", "--data", str(tables / "t.csv"), "--detectors", "ecod"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("shopguard: error: t.csv: no label column 'y'") and "\n" not in err
    assert main([*data_dir, "benchmark", "--data", str(tables / "t.npz"), "--detectors", "ecod,nope"]) == 1
    assert "unknown detector(s) nope" in capsys.readouterr().err
    assert main([*data_dir, "benchmark", "--data", str(tables / "missing.npz")]) == 1
    assert "not found" in capsys.readouterr().err
