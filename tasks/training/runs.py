"""MLflow runs of a retrain: the parent run, one nested child per trial, lineage and the reference.

All logging goes through an explicit ``MlflowClient`` and run ids (never the fluent active-run
stack), so trials running in parallel threads, or later on Dask workers, cannot interfere.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import mlflow.data
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE

from tasks.registry.contract import REFERENCE_ARTIFACT
from tasks.training.objective import TrialResult, model_kind
from tasks.training.window import KEY_COLUMNS, TrainingWindow, WindowData, partition_digest

log = logging.getLogger(__name__)

REFERENCE_ROWS = 5000


def parent_run_name(window: TrainingWindow, trigger: str) -> str:
    return f"retrain {window.label} ({trigger})"


def run_tags(window: TrainingWindow, trigger: str, feature_schema_version: str, code_version: str) -> dict[str, str]:
    """Tags shared by the parent run, every trial and the registered version."""
    return {
        "feature_schema_version": feature_schema_version,
        "code_version": code_version,
        "mlflow.source.git.commit": code_version.removesuffix("+dirty"),
        "data_window": window.label,
        "trigger": trigger,
    }


def start_parent_run(client: MlflowClient, experiment_id: str, window: TrainingWindow, trigger: str,
                     tags: dict[str, str]) -> str:
    note = (f"Retrain on {window.label} ({trigger}). Fit days {window.fit_days[0]}..{window.fit_days[-1]}; "
            f"held-out days: {', '.join(d.isoformat() for d in window.validation_days) or 'none'}.")
    run = client.create_run(experiment_id, run_name=parent_run_name(window, trigger),
                            tags={**tags, MLFLOW_RUN_NOTE: note})
    return run.info.run_id


def _finite_metrics(metrics: dict[str, float], timestamp_ms: int) -> list[Metric]:
    return [Metric(key, float(value), timestamp_ms, 0) for key, value in metrics.items()
            if value is not None and math.isfinite(value)]


def log_trial_run(client: MlflowClient, experiment_id: str, parent_run_id: str, trial_number: int,
                  detector_name: str, params: dict[str, Any], tags: dict[str, str],
                  result: TrialResult | None = None, state: str = "complete", error: str | None = None) -> str:
    """One nested child run for one trial (complete, pruned or failed).

    A pruned trial ran as planned and was stopped by the sweep's decision: its run ends FINISHED,
    tagged ``pruned``, with the metrics of its last rung (KILLED would read as an interruption).
    """
    run = client.create_run(experiment_id, run_name=f"trial-{trial_number:03d} {detector_name}",
                            tags={**tags, MLFLOW_PARENT_RUN_ID: parent_run_id, "detector": detector_name,
                                  "model_kind": model_kind(detector_name), "trial_number": str(trial_number), "trial_state": state,
                                  **({"pruned": "true"} if state == "pruned" else {}),
                                  **({"error" if state == "failed" else "pruned_reason": error[:500]} if error else {})})
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    logged_params = [Param("detector", detector_name)] + [Param(k, str(v)) for k, v in sorted(params.items())]
    metrics = _finite_metrics(result.metrics, now) if result is not None else []
    if result is not None:
        metrics.append(Metric("objective", result.objective, now, 0))
    client.log_batch(run_id, metrics=metrics, params=logged_params, tags=[RunTag("trial_state", state)])
    client.set_terminated(run_id, status="FAILED" if state == "failed" else "FINISHED")
    return run_id


def log_dataset_inputs(client: MlflowClient, run_id: str, data: WindowData) -> None:
    """Lineage: each feature partition as a dataset input (source = its path, digest = its bytes)."""
    frames = {"training": data.fit, "validation": data.validation}
    inputs = []
    for day, files in sorted(data.partitions.items()):
        context = "validation" if day in data.window.validation_days else "training"
        frame = frames[context]
        day_rows = frame.loc[frame["date"] == day, list(KEY_COLUMNS) + data.feature_names]
        with warnings.catch_warnings():
            # MLflow registers its local source class twice and warns that a path is ambiguous.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = mlflow.data.from_pandas(day_rows, source=str(files[0].parent),
                                              name=f"features date={day.isoformat()}", digest=partition_digest(files))
        # the public entity from the dataset's public dict (name, digest, source, schema, profile)
        inputs.append(DatasetInput(dataset=DatasetEntity(**dataset.to_dict()),
                                   tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]))
    if inputs:
        client.log_inputs(run_id, datasets=inputs)


def reference_sample(data: WindowData, rows: int = REFERENCE_ROWS, seed: int = 0) -> pd.DataFrame:
    """A sample of the fit rows (keys + model features): the baseline the drift reports compare to."""
    frame = data.fit[list(KEY_COLUMNS) + data.feature_names]
    return frame.sample(n=min(rows, len(frame)), random_state=seed).reset_index(drop=True)


def log_reference(client: MlflowClient, run_id: str, reference: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory(prefix="shopguard-ref-") as tmp:
        path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
        reference.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))


def log_best(client: MlflowClient, run_id: str, best: TrialResult, objective_name: str) -> None:
    """The chosen trial's detector, parameters and metrics on the parent run (for run comparison)."""
    now = int(time.time() * 1000)
    metrics = _finite_metrics(best.metrics, now) + [Metric("objective", best.objective, now, 0)]
    params = [Param("best.detector", best.detector_name)] + [Param(f"best.{k}", str(v)) for k, v in sorted(best.params.items())]
    client.log_batch(run_id, metrics=metrics, params=params,
                     tags=[RunTag("detector", best.detector_name), RunTag("model_kind", model_kind(best.detector_name)),
                           RunTag("objective", objective_name)])
