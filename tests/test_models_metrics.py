"""Metrics against hand-counted cases, the search spaces against a real Optuna trial, and purity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from models.metrics import METRIC_KEYS, evaluate_scores
from models.registry import detector_names, make_detector
from models.search_space import suggest_params


def test_evaluate_scores_counts_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.05, 0.0])
    m = evaluate_scores(y, scores, threshold=0.5, k=2)
    assert set(m) == set(METRIC_KEYS)
    # flagged: rows 0,1,2 -> 2 true of 3 flagged; 3 anomalies in all
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["alert_rate"] == pytest.approx(3 / 8)
    assert m["precision_at_k"] == pytest.approx(1 / 2) and m["recall_at_k"] == pytest.approx(1 / 3)
    # ROC-AUC: of 15 (anomaly, normal) pairs the anomaly outranks the normal in 5 + 4 + 1
    assert m["roc_auc"] == pytest.approx(10 / 15)


def test_evaluate_scores_single_class_and_bad_input():
    m = evaluate_scores(np.zeros(5), np.arange(5.0), threshold=2.5, k=3)
    assert np.isnan(m["roc_auc"]) and np.isnan(m["recall"]) and m["alert_rate"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="labels but"):
        evaluate_scores(np.zeros(3), np.zeros(4), threshold=0.0, k=1)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_scores(np.array([0, 1]), np.array([0.0, np.nan]), threshold=0.0, k=1)


@pytest.mark.parametrize("name", detector_names())
def test_search_space_gives_constructor_params_from_a_real_optuna_trial(name):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = suggest_params(name, trial)
    detector = make_detector(name, **params)
    assert detector.get_params() | params == detector.get_params()
    assert all(key.startswith(f"{name}.") for key in trial.params)


def test_models_import_no_orchestration_or_tracking_libraries():
    code = ("import sys; from models.registry import detector_names, detector_class; "
            "import models.metrics, models.search_space, models.evaluation; "
            "[detector_class(n) for n in detector_names()]; "
            "print(','.join(m for m in ('prefect', 'mlflow', 'optuna', 'tasks', 'flows') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == ""


def test_loading_a_density_model_does_not_import_torch(tmp_path):
    make_detector("gaussian").fit(np.random.default_rng(0).normal(size=(50, 3))).save(tmp_path / "g")
    code = (f"import sys; from models.base import BaseDetector; BaseDetector.load({str(tmp_path / 'g')!r}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"
