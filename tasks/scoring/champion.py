"""The serving model: ``models:/<registered model>@champion`` and its training reference.

Downloads are cached per model version under the data root's state folder, so rescoring a day
(or scoring many days with the same champion) loads from disk instead of the tracking store.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

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


def champion_model_dir(settings: Settings, champion: Champion) -> Path:
    """The folder ``load_champion`` loaded the champion from: shard workers load it from there too."""
    return _cache_dir(DataLayout(settings.data_dir), champion.name, champion.version, champion.run_id) / "model"


class ChampionIncompatible(ShopguardError):
    """The model's own files load but its code refuses them (e.g. saved by an incompatible library)."""


def _download_once(target: Path, download: Any, complete: Any = lambda folder: True) -> Path:
    """Run ``download(tmp_dir)`` into a temp folder and swap it in, unless a complete ``target`` exists.

    Only a download that ``complete(tmp_dir)`` accepts is committed, so a failed or empty download
    (artifacts missing) leaves no cache behind and the next call retries from the registry.
    """
    if target.exists() and complete(target):
        return target
    with staged_directory(target) as tmp:
        download(tmp)
        if not complete(tmp):
            raise DataMissingError(f"download into {target} came back incomplete")
    return target


def _has_mlmodel(folder: Path) -> bool:
    return (folder / "MLmodel").is_file()


def registry_download_uri(settings: Settings, version: Any) -> str:
    """Where the registry keeps ``version``'s files, refused unless inside the experiment's artifacts.

    A version can be registered from any source URI (``create_model_version(source=...)``); serving
    or gating one from outside shopguard's own artifact store would run code nobody trained here.
    """
    from tasks.tracking import mlflow_client

    client = mlflow_client(settings)
    name = settings.registered_model_name
    uri = client.get_model_version_download_uri(name, str(version.version))
    experiment = client.get_experiment_by_name(settings.experiment_name)
    root = experiment.artifact_location if experiment is not None else None
    if root is None or not _inside(uri, root):
        raise ShopguardError(f"refusing models:/{name}/{version.version}: its files ({uri}) are outside the "
                             f"registry's artifact store ({root or 'no shopguard experiment'})")
    return uri


def _inside(uri: str, root: str) -> bool:
    parsed, base = urlparse(uri), urlparse(root)
    if parsed.scheme != base.scheme or parsed.netloc != base.netloc:
        return False
    path, base_path = PurePosixPath(posixpath.normpath(parsed.path)), PurePosixPath(posixpath.normpath(base.path))
    return path == base_path or base_path in path.parents


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



def load_version_model(settings: Settings, version: Any) -> Any:
    """``version``'s pyfunc from the registry's own artifacts, cached complete under the data root.

    Raises ChampionIncompatible when the model's code refuses its files, ShopguardError (one
    line) when the files cannot be fetched or read: a transient fault, never "cannot score".
    """
    import mlflow
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    name = settings.registered_model_name
    uri = f"models:/{name}/{version.version}"
    source = registry_download_uri(settings, version)

    def download(tmp: Path) -> None:
        # models:/ resolves to ``source`` again (a version's source never changes)
        mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp), tracking_uri=settings.tracking_uri,
                                            registry_uri=settings.tracking_uri)

    run_id = version.run_id or (version.tags or {}).get("run_id")
    target = _cache_dir(DataLayout(settings.data_dir), name, str(version.version), run_id) / "model"
    try:
        model_dir = _download_once(target, download, _has_mlmodel)
    except (MlflowException, OSError, DataMissingError) as exc:
        raise ShopguardError(f"{uri}: its files could not be fetched from {source}: {first_line(exc)}") from exc
    try:
        return mlflow.pyfunc.load_model(str(model_dir))
    except (MlflowException, OSError) as exc:
        raise ShopguardError(f"{uri}: cached files in {model_dir} could not be read: {first_line(exc)}") from exc
    except Exception as exc:  # raised by the model's own code (format/version checks, imports)
        raise ChampionIncompatible(f"{uri} cannot be loaded by this code: {type(exc).__name__}: "
                                   f"{first_line(exc)}") from exc


def load_champion(settings: Settings) -> Champion:
    version = resolve_champion_version(settings)
    name = settings.registered_model_name
    model = load_version_model(settings, version)
    run_id = version.run_id or (version.tags or {}).get("run_id")
    experiment_id = None
    if run_id:
        from tasks.tracking import mlflow_client

        experiment_id = mlflow_client(settings).get_run(run_id).info.experiment_id
    # debug: the stage that loads it names the version in its own line ("scored N users with vK")
    log.debug("champion is %s version %s (run %s)", name, version.version, run_id)
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
                                 download, lambda folder: any(folder.rglob(Path(REFERENCE_ARTIFACT).name)))
    except Exception as exc:  # MlflowException / OSError: the artifact is simply not there
        raise DataMissingError(
            f"champion {champion.uri} has no {REFERENCE_ARTIFACT} artifact in run {champion.run_id}"
        ) from exc
    found = sorted(ref_dir.rglob(Path(REFERENCE_ARTIFACT).name))
    return pq.ParquetFile(found[0]).read().to_pandas()
