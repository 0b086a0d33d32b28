"""The serving model: ``models:/<registered model>@champion`` and its training reference.

Downloads are cached per model version under the data root's state folder, so rescoring a day
(or scoring many days with the same champion) loads from disk instead of the tracking store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from tasks.errors import DataMissingError, ShopguardError, first_line
from tasks.layout import DataLayout
from tasks.parquet_io import staged_directory
from tasks.registry.contract import CHAMPION, REFERENCE_ARTIFACT
from tasks.settings import Settings

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Champion:
    """The model serving today, with what on-call needs to trace a score back to its run."""

    model: Any  # mlflow.pyfunc.PyFuncModel
    name: str
    version: str
    run_id: str | None
    experiment_id: str | None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _cache_dir(layout: DataLayout, name: str, version: str, run_id: str | None) -> Path:
    # the run id too: a fresh tracking store numbers its versions from 1 again
    return layout.state / "models" / name / f"version={version}-{(run_id or 'norun')[:12]}"


def _download_once(target: Path, download: Any) -> Path:
    """Run ``download(tmp_dir)`` into a temp folder and swap it in, unless ``target`` exists."""
    if target.exists():
        return target
    with staged_directory(target) as tmp:
        download(tmp)
    return target


def resolve_champion_version(settings: Settings) -> Any:
    """The registry's ModelVersion behind the champion alias; a one-line error when there is none."""
    from mlflow.exceptions import MlflowException

    from tasks.tracking import mlflow_client

    client = mlflow_client(settings)
    try:
        return client.get_model_version_by_alias(settings.registered_model_name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise ShopguardError(f"MLflow registry {settings.tracking_uri} failed: {first_line(exc)}") from exc
        raise DataMissingError(
            f"no champion model: models:/{settings.registered_model_name}@{CHAMPION} does not exist "
            f"in {settings.tracking_uri}; train and promote one first (shopguard train)"
        ) from None


def load_champion(settings: Settings) -> Champion:
    import mlflow
    import mlflow.pyfunc

    version = resolve_champion_version(settings)
    name = settings.registered_model_name
    layout = DataLayout(settings.data_dir)

    def download(tmp: Path) -> None:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version.version}", dst_path=str(tmp),
            tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri,
        )

    run_id = version.run_id or (version.tags or {}).get("run_id")
    model_dir = _download_once(_cache_dir(layout, name, str(version.version), run_id) / "model", download)
    model = mlflow.pyfunc.load_model(str(model_dir))
    experiment_id = None
    if run_id:
        from tasks.tracking import mlflow_client

        experiment_id = mlflow_client(settings).get_run(run_id).info.experiment_id
    log.info("champion is %s version %s (run %s)", name, version.version, run_id)
    return Champion(model=model, name=name, version=str(version.version), run_id=run_id,
                    experiment_id=experiment_id)


def load_reference_features(settings: Settings, champion: Champion) -> pd.DataFrame:
    """The training-feature sample the champion's run logged: the baseline for drift reports."""
    import mlflow

    if not champion.run_id:
        raise DataMissingError(f"champion {champion.uri} has no training run, so no drift reference")
    layout = DataLayout(settings.data_dir)

    def download(tmp: Path) -> None:
        mlflow.artifacts.download_artifacts(run_id=champion.run_id, artifact_path=REFERENCE_ARTIFACT,
                                            dst_path=str(tmp), tracking_uri=settings.tracking_uri)

    try:
        ref_dir = _download_once(_cache_dir(layout, champion.name, champion.version, champion.run_id) / "reference",
                                 download)
    except Exception as exc:  # MlflowException / OSError: the artifact is simply not there
        raise DataMissingError(
            f"champion {champion.uri} has no {REFERENCE_ARTIFACT} artifact in run {champion.run_id}"
        ) from exc
    found = sorted(ref_dir.rglob(Path(REFERENCE_ARTIFACT).name))
    if not found:
        raise DataMissingError(f"champion {champion.uri}: {REFERENCE_ARTIFACT} downloaded empty")
    return pq.ParquetFile(found[0]).read().to_pandas()
