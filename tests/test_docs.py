"""The README's tables stay in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from tasks.features.catalogue import FEATURE_CATALOGUE
from tasks.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ALIASED = {"mlflow_tracking_uri": "MLFLOW_TRACKING_URI", "prefect_api_url": "PREFECT_API_URL"}


def setting_variables(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names += setting_variables(field.annotation, f"{prefix}{name}__")
        else:
            names.append(ALIASED.get(name) or f"SHOPGUARD_{prefix}{name}".upper())
    return names


def test_every_setting_is_in_the_readme_table():
    missing = [v for v in setting_variables() if f"`{v}`" not in README]
    assert not missing, f"README settings table lacks {missing}"


def test_every_catalogued_feature_is_in_the_readme():
    missing = [f.name for f in FEATURE_CATALOGUE if f"`{f.name}`" not in README]
    assert not missing, f"README feature table lacks {missing}"
