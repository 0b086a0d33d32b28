"""The one typed settings object.

Read once at the CLI/flow boundary (``Settings()``) and passed down as an argument. Defining it
here keeps imports pointing one way (flows -> tasks); nothing here reads the environment at import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ValidationSettings(BaseModel):
    max_bad_row_share: float = Field(0.05, ge=0, le=1, description="Stop the day when more rows than this share fail row-level checks.")
    volume_trailing_days: int = Field(7, ge=1, description="Trailing days whose row counts define the normal volume band.")
    volume_low_ratio: float = Field(0.2, gt=0, description="Stop when the day's rows fall below this ratio of the trailing median.")
    volume_high_ratio: float = Field(5.0, gt=1, description="Stop when the day's rows exceed this ratio of the trailing median.")
    max_duplicate_share: float = Field(0.01, ge=0, le=1, description="Stop when more than this share of event ids are duplicates.")


class FeatureSettings(BaseModel):
    window_days: int = Field(28, ge=1, description="Trailing history (days) used for history-relative features.")


class TrainingSettings(BaseModel):
    window_days: int = Field(7, ge=1, description="Days of features a retrain learns from.")
    validation_days: int = Field(2, ge=0, description="Most recent days of the window held out (with labels) to pick and gate models.")
    trials: int = Field(12, ge=1, description="Optuna trials per retrain.")
    # NoDecode + the validator below: the README's comma-separated form (a,b,c) works as well as JSON.
    # autoencoder and vae are not defaults: 0.727 / 0.388 mean ROC-AUC / AP on the ADBench dev sets,
    # under IForest's 0.733 / 0.422 (README, Detection quality); name them here to try them.
    detectors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["isolation_forest", "gaussian", "gmm", "ecod"],
        description="Detector families the sweep may choose from.",
    )
    threshold_percentile: float = Field(99.0, gt=50, lt=100, description="Score percentile of the training window used as the alert threshold.")
    alert_budget: int = Field(50, ge=1, description="k for precision@k / recall@k: alerts on-call can review per day.")
    promotion_margin: float = Field(0.005, ge=0, description="A challenger must beat the champion's objective by this much.")
    max_alert_rate: float = Field(0.05, gt=0, le=1, description="The alert budget: share of user-days on-call can review. Models are compared at it (recall at the budget) and a challenger whose alert rate exceeds it is never promoted.")
    parallel_trials: int = Field(1, ge=1, description="Optuna trials run at once.")
    seed: int = Field(42, description="Seed for the sweep sampler and the detectors.")
    retrain_wait_seconds: float = Field(1800, ge=0, description="How long a retrain or promotion waits for the one running now before failing.")

    @field_validator("detectors", mode="before")
    @classmethod
    def _split_detectors(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [name.strip() for name in text.split(",") if name.strip()]


class MonitoringSettings(BaseModel):
    drift_share_threshold: float = Field(0.45, ge=0, le=1, description="Retrain when more than this share of features drift (ordinary synthetic days: 15-30%, a promotion day: 60-70%).")
    column_drift_threshold: float = Field(0.1, gt=0, description="A feature drifts when its PSI over the reference deciles reaches this (0.1: a moderate shift).")
    score_drift_threshold: float = Field(0.25, gt=0, description="PSI of the anomaly-score distribution against the champion's reference scores that counts as score drift (0.25: the usual 'significant shift'); reported, and a retrain reason only alongside feature drift.")
    alert_rate_trailing_days: int = Field(7, ge=1, description="Trailing days that define the normal alert-rate band.")
    alert_rate_band: float = Field(3.0, gt=1, description="Alert rate outside [median/band, median*band] counts as drift.")
    retrain_cooldown_days: int = Field(3, ge=0, description="At most one drift-triggered retrain per this many days.")


class ScheduleSettings(BaseModel):
    scoring_cron: str = Field("0 2 * * *", description="Daily scoring of the previous day (UTC).")
    retrain_cron: str = Field("0 4 * * 1", description="Scheduled retrain (UTC); weekly on Monday by default.")
    timezone: str = Field("UTC", description="Time zone the cron schedules are read in.")


class Settings(BaseSettings):
    """All of shopguard's knobs. Env prefix SHOPGUARD_, nested with ``__`` (SHOPGUARD_TRAINING__TRIALS=5)."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPGUARD_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(Path("data"), description="Root of raw/, validated/, features/, scores/, reports/ ...")
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "SHOPGUARD_MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLflow tracking store; default sqlite inside the data root.",
    )
    prefect_api_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PREFECT_API_URL", "SHOPGUARD_PREFECT_API_URL", "prefect_api_url"),
        description="Prefect API; default Prefect's local ephemeral API.",
    )
    dask_address: str | None = Field(
        None,
        validation_alias=AliasChoices("SHOPGUARD_DASK_ADDRESS", "dask_address"),
        description="Dask scheduler (tcp://host:port) for sharded features, scoring and sweep trials; unset: in-process.",
    )
    prefect_idle_seconds: float = Field(
        120, gt=0, description="Without PREFECT_API_URL the commands on one data root share a temporary Prefect API; "
        "it stops this long after the last of them ends.")
    dask_shards: int = Field(8, ge=1, description="User shards (hash of user_id) that feature building and scoring split a day into on Dask.")
    experiment_name: str = Field("shopguard", description="MLflow experiment for retrains.")
    registered_model_name: str = Field("shopguard-detector", description="MLflow registered model.")
    log_level: str = Field("INFO", description="Python logging level.")

    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.data_dir / "mlflow" / "artifacts"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    def apply_environment(self) -> None:
        """Point MLflow and Prefect at this installation. Call once, before importing either.

        Explicit rather than at import time: the CLI and flows call it at their boundary.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("PREFECT_HOME", str(self.prefect_home))
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", self.log_level)
        if self.log_level.upper() != "DEBUG":
            # One "Finished in state Completed()" per task buries the lines people read.
            os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
        # shopguard's own log lines reach the Prefect UI beside Prefect's; outside a run they stay local
        os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tasks,flows,models")
        os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
        # Prefect's client retries a dead server 5 times with 2..32 s back-off (a minute per call,
        # several calls in a row): 3 tries (about 15 s) then one line naming the server.
        os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "3")
        if self.prefect_api_url:
            os.environ["PREFECT_API_URL"] = self.prefect_api_url
        os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
        os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
