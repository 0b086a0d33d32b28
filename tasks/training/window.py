"""The training window: which days a retrain learns from, which it holds out, and their labels.

The window is the ``window_days`` days ending at ``end``. Its last ``validation_days`` days are
held out to pick the sweep's best and to gate promotion; the detectors are fitted on the earlier
days, never on a held-out one (``load_window`` checks it). Known anomalies are handled the same
way for every candidate: label-free detectors fit on the fit days with users already labelled
anomalous dropped (labels of past days are known by training time; learning "normal" from known
fraud only blurs it; fit days without labels are used as they are), label-aware detectors fit on
the labelled rows of the same fit days, known anomalies included as the positive class. Held-out
labels are used only to judge. Held-out days without labels (or without both classes) switch the
sweep to the label-free objective.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tasks.errors import DataMissingError, ShopguardError, first_line
from tasks.features.store import load_feature_days
from tasks.labels import known_users, read_labels_table
from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files

log = logging.getLogger(__name__)

KEY_COLUMNS = ("user_id", "date")
MIN_FIT_ROWS = 50
# Fewer labelled anomalies on the fit days than this cannot teach a classifier: no label-aware trials.
MIN_LABELLED_POSITIVES = 10


@dataclass(frozen=True)
class TrainingWindow:
    end: date
    fit_days: tuple[date, ...]
    validation_days: tuple[date, ...]

    @property
    def days(self) -> tuple[date, ...]:
        return self.fit_days + self.validation_days

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def plan_window(end: date, window_days: int, validation_days: int) -> TrainingWindow:
    """Split the ``window_days`` days ending at ``end`` into fit days and held-out days."""
    if window_days < 1:
        raise ShopguardError(f"window_days must be at least 1, got {window_days}")
    if validation_days >= window_days:
        raise ShopguardError(f"validation_days ({validation_days}) must be fewer than window_days ({window_days}): "
                             "no day would be left to fit on")
    days = tuple(end - timedelta(days=window_days - 1 - i) for i in range(window_days))
    split = window_days - validation_days
    return TrainingWindow(end=end, fit_days=days[:split], validation_days=days[split:])


@dataclass
class WindowData:
    """Features of one window, split for training. ``validation`` carries ``is_anomaly``/``anomaly_type``.

    ``fit`` is what label-free detectors learn from (known anomalies dropped); ``labelled_fit`` is
    the labelled rows of the same fit days, known anomalies included, for label-aware detectors.
    """

    window: TrainingWindow
    feature_names: list[str]
    fit: pd.DataFrame
    validation: pd.DataFrame
    has_labels: bool
    partitions: dict[date, list[Path]] = field(default_factory=dict)
    dropped_known_anomalies: int = 0
    labelled_fit: pd.DataFrame | None = None

    @property
    def labels(self) -> np.ndarray | None:
        return self.validation["is_anomaly"].to_numpy(dtype=bool) if self.has_labels else None

    @property
    def kinds(self) -> np.ndarray | None:
        """Held-out rows' ``anomaly_type`` (None where normal or unknown), when labelled."""
        if not self.has_labels:
            return None
        return self.validation["anomaly_type"].astype(object).where(self.validation["anomaly_type"].notna(), None).to_numpy()

    @property
    def has_fit_labels(self) -> bool:
        """Whether the fit days carry enough labels (of both classes) for label-aware detectors."""
        return self.labelled_fit is not None and self.has_labels

    @property
    def fit_labels(self) -> np.ndarray | None:
        return self.labelled_fit["is_anomaly"].to_numpy(dtype=bool) if self.labelled_fit is not None else None


def labelled_rows(fit: pd.DataFrame) -> pd.DataFrame | None:
    """The labelled fit rows, or None when they hold too few anomalies (or no normal row) to learn from."""
    labelled = fit.loc[fit["is_anomaly"].notna()].reset_index(drop=True)
    positives = int(labelled["is_anomaly"].sum())
    if positives < MIN_LABELLED_POSITIVES or positives == len(labelled):
        return None
    return labelled


def check_time_order(fit_dates: pd.Series, validation_dates: pd.Series, label: str) -> None:
    """Every fitted row must come from a day before every held-out row: no future day in a fit."""
    if len(fit_dates) and len(validation_dates) and max(fit_dates) >= min(validation_dates):
        raise ShopguardError(f"window {label}: fit rows from {max(fit_dates)} are not before the held-out "
                             f"days from {min(validation_dates)}")


def attach_labels(features: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """Left-join labels on (user_id, date); unlabelled rows get is_anomaly = <NA>."""
    out = features.assign(date=pd.to_datetime(features["date"]).dt.date)
    if labels is None or labels.empty:
        out["is_anomaly"] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["anomaly_type"] = pd.array([None] * len(out), dtype="string")
        return out
    keyed = labels[["user_id", "date", "is_anomaly", "anomaly_type"]].drop_duplicates(["user_id", "date"])
    keyed = keyed.assign(date=pd.to_datetime(keyed["date"]).dt.date,
                         is_anomaly=keyed["is_anomaly"].astype("boolean"),
                         anomaly_type=keyed["anomaly_type"].astype("string"))
    return out.merge(keyed, on=["user_id", "date"], how="left", validate="one_to_one")


def _load_labels(layout: DataLayout, days: tuple[date, ...]) -> pd.DataFrame | None:
    # File by file: a dataset over date=D/ folders would add a hive "date" clashing with the column.
    users = known_users(layout)
    tables = [t for t in (read_labels_table(layout, d, users) for d in days) if t is not None]
    return pa.concat_tables(tables).to_pandas() if tables else None


def load_window(layout: DataLayout, window: TrainingWindow, feature_names: list[str]) -> WindowData:
    """Read the window's feature partitions and labels (never modified) into fit and held-out frames."""
    partitions = {d: parquet_files(layout.features(d)) for d in window.days}
    fit_days = [d for d in window.fit_days if partitions[d]]
    val_days = [d for d in window.validation_days if partitions[d]]
    missing = [d.isoformat() for d, files in partitions.items() if not files]
    if missing:
        log.warning("no feature partition for %s; training without those days", ", ".join(missing))
    if not fit_days:
        raise DataMissingError(f"no feature partitions for the fit days of {window.label} under {layout.root / 'features'}"
                               " (run shopguard features first)")
    columns = list(KEY_COLUMNS) + feature_names
    try:
        fit = attach_labels(load_feature_days(layout, fit_days, columns), _load_labels(layout, window.fit_days))
        validation = attach_labels(load_feature_days(layout, val_days, columns) if val_days else
                                   pd.DataFrame(columns=columns), _load_labels(layout, window.validation_days))
    except (KeyError, ValueError) as exc:
        raise ShopguardError(f"feature partitions of {window.label} lack model columns: {first_line(exc)}") from exc
    check_time_order(fit["date"], validation["date"], window.label)
    labelled_fit = labelled_rows(fit)
    known = fit["is_anomaly"].fillna(False).to_numpy(dtype=bool)
    fit = fit.loc[~known].reset_index(drop=True)
    if len(fit) < MIN_FIT_ROWS:
        raise ShopguardError(f"only {len(fit)} normal user-days to fit on in {window.label}; need {MIN_FIT_ROWS}")
    labelled = validation["is_anomaly"].notna()
    if labelled.any() and not labelled.all():
        log.warning("held-out days are only partly labelled; scoring only the %d labelled rows", int(labelled.sum()))
        validation = validation.loc[labelled].reset_index(drop=True)
    positives = int(validation["is_anomaly"].fillna(False).sum())
    # Ranking metrics need both classes; otherwise the label-free objective decides.
    has_labels = bool(labelled.any()) and 0 < positives < len(validation)
    log.info("window %s: %d fit rows (%d known anomalies dropped), %d labelled fit rows, %d held-out rows, "
             "labels: %s", window.label, len(fit), int(known.sum()),
             0 if labelled_fit is None else len(labelled_fit), len(validation), has_labels)
    return WindowData(window=window, feature_names=feature_names, fit=fit, validation=validation,
                      has_labels=has_labels, partitions={d: f for d, f in partitions.items() if f},
                      dropped_known_anomalies=int(known.sum()), labelled_fit=labelled_fit)


def partition_digest(files: list[Path]) -> str:
    """Content hash of a partition's files (the lineage digest logged with the dataset input)."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
