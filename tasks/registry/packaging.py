"""Log a fitted detector as the ``shopguard-detector`` pyfunc and register it as a new version.

The package holds the saved detector directory (arrays + JSON, no pickles), the serving code as
"model from code", a minimal copy of the ``models`` and ``tasks.registry`` sources so it loads
standalone, an explicit signature and input example, and explicit pip requirements.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.models.signature import ModelSignature
from mlflow.types import ColSpec, Schema

from models.base import BaseDetector
from tasks.settings import Settings
from tasks.tracking import mlflow_client, mlflow_prints_as_debug

log = logging.getLogger(__name__)

MODEL_ARTIFACT_NAME = "model"
_REGISTRY_DIR = Path(__file__).resolve().parent
_MODELS_DIR = _REGISTRY_DIR.parent.parent / "models"
_BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy", "scikit-learn")


def model_signature(feature_names: list[str]) -> ModelSignature:
    inputs = Schema([ColSpec("double", name) for name in feature_names])
    outputs = Schema([ColSpec("double", "anomaly_score"), ColSpec("boolean", "is_anomaly"),
                      ColSpec("string", "top_features"), ColSpec("string", "reasons")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements(detector_dir: Path) -> list[str]:
    """Pinned requirements of the serving code; torch only when the detector saved torch weights."""
    packages = list(_BASE_REQUIREMENTS)
    if any(p.suffix in {".pt", ".pth"} for p in detector_dir.rglob("*")):
        packages.append("torch")
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def _stage_code(stage: Path) -> list[str]:
    """Copy just the sources the served model imports, keeping their package layout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(_MODELS_DIR, stage / "models", ignore=ignore)
    registry = stage / "tasks" / "registry"
    registry.mkdir(parents=True)
    (stage / "tasks" / "__init__.py").write_text('"""shopguard tasks (serving subset)."""\n')
    for name in ("__init__.py", "serving.py"):
        shutil.copy2(_REGISTRY_DIR / name, registry / name)
    return [str(stage / "models"), str(stage / "tasks")]


def log_and_register(detector: BaseDetector, run_id: str, input_example: pd.DataFrame,
                     settings: Settings) -> ModelVersion:
    """Log ``detector`` into run ``run_id`` as a pyfunc and register it; returns the new version."""
    feature_names = list(detector.feature_names_in_)
    with tempfile.TemporaryDirectory(prefix="shopguard-model-") as tmp:
        detector_dir = detector.save(Path(tmp) / "detector")
        code_paths = _stage_code(Path(tmp) / "code")
        with mlflow.start_run(run_id=run_id), mlflow_prints_as_debug():
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT_NAME,
                python_model=str(_REGISTRY_DIR / "pyfunc_entry.py"),
                artifacts={"detector": str(detector_dir)},
                code_paths=code_paths,
                signature=model_signature(feature_names),
                input_example=input_example[feature_names].head(5),
                pip_requirements=pip_requirements(detector_dir),
                registered_model_name=settings.registered_model_name,
            )
    model_version = mlflow_client(settings).get_model_version(settings.registered_model_name,
                                                               str(info.registered_model_version))
    log.info("registered %s version %s from run %s", settings.registered_model_name, model_version.version, run_id)
    return model_version
