"""Reviewer artifacts for the parent run: curves, histograms, tables. Pure: data in, figures out."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from models.metrics import flag_metrics  # noqa: E402
from tasks.scoring.kinds import guess_kind  # noqa: E402

THRESHOLD_PERCENTILES = (90.0, 95.0, 97.5, 99.0, 99.5, 99.9)


def _figure(title: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.set_title(title)
    return fig, ax


def close(figure: Figure) -> None:
    plt.close(figure)


def roc_figure(y: np.ndarray, scores: np.ndarray) -> Figure:
    fig, ax = _figure("ROC on held-out days")
    RocCurveDisplay.from_predictions(y, scores, ax=ax, name="detector", plot_chance_level=True)
    return fig


def pr_figure(y: np.ndarray, scores: np.ndarray) -> Figure:
    fig, ax = _figure(f"Precision-recall on held-out days (base rate {y.mean():.2%})")
    PrecisionRecallDisplay.from_predictions(y, scores, ax=ax, name="detector", plot_chance_level=True)
    ax.set(ylim=(0, 1.02))
    return fig


def score_histogram(scores: np.ndarray, threshold: float, y: np.ndarray | None = None) -> Figure:
    fig, ax = _figure("Anomaly scores on held-out days")
    bins = np.histogram_bin_edges(scores, bins=60)
    if y is None:
        ax.hist(scores, bins=bins, color="tab:blue", alpha=0.8, label="all users")
    else:
        ax.hist(scores[~y], bins=bins, color="tab:blue", alpha=0.6, density=True, label="normal")
        ax.hist(scores[y], bins=bins, color="tab:red", alpha=0.6, density=True, label="anomalous")
    ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="anomaly score (higher = more anomalous)", ylabel="density" if y is not None else "users")
    ax.legend()
    return fig


def confusion_figure(y: np.ndarray, flagged: np.ndarray) -> Figure:
    fig, ax = _figure("Confusion matrix at the fitted threshold")
    display = ConfusionMatrixDisplay.from_predictions(
        np.asarray(y).astype(bool), np.asarray(flagged).astype(bool), labels=[False, True], ax=ax, cmap="Blues",
        colorbar=False)
    display.ax_.set(xticklabels=["not alerted", "alerted"], yticklabels=["normal", "anomalous"],
                    xlabel="model", ylabel="label")
    return fig


def recall_by_kind(kinds: pd.Series, flagged: np.ndarray) -> pd.DataFrame:
    """Per anomaly kind: labelled users, how many the threshold alerted, and the recall."""
    frame = pd.DataFrame({"kind": kinds.astype("string").to_numpy(), "alerted": flagged}).dropna(subset=["kind"])
    table = frame.groupby("kind").agg(users=("alerted", "size"), alerted=("alerted", "sum"))
    table["recall"] = table["alerted"] / table["users"]
    return table.sort_values("recall").reset_index()


def kind_guess_accuracy(kinds: pd.Series, top_features: pd.Series) -> pd.DataFrame:
    """Per labelled anomaly kind among alerted users: how often on-call's kind guess names it.

    ``top_features`` is the served explanation of each alerted row (";"-joined, most first).
    """
    frame = pd.DataFrame({"kind": kinds.astype("string").to_numpy(),
                          "guess": [guess_kind(t) for t in top_features]}).dropna(subset=["kind"])
    frame["right"] = frame["kind"] == frame["guess"]
    table = frame.groupby("kind").agg(alerted=("right", "size"), guessed_right=("right", "sum"))
    table["accuracy"] = table["guessed_right"] / table["alerted"]
    return table.sort_values("accuracy").reset_index()


def recall_by_kind_figure(table: pd.DataFrame) -> Figure:
    fig, ax = _figure("Recall per anomaly kind at the threshold")
    ax.barh(table["kind"], table["recall"], color="tab:red")
    for i, row in table.iterrows():
        ax.text(min(row["recall"] + 0.01, 0.9), i, f"{int(row['alerted'])}/{int(row['users'])}", va="center")
    ax.set(xlim=(0, 1), xlabel="recall")
    fig.tight_layout()
    return fig


def threshold_table(scores: np.ndarray, y: np.ndarray | None, fitted_threshold: float) -> pd.DataFrame:
    """What alternative cut-offs (score percentiles) would do: alerts, rate, precision, recall."""
    rows = []
    cutoffs = [(f"p{p:g}", float(np.percentile(scores, p))) for p in THRESHOLD_PERCENTILES]
    for name, cut in [*cutoffs, ("fitted", fitted_threshold)]:
        flagged = scores > cut
        row = {"cutoff": name, "threshold": cut, "alerts": int(flagged.sum()), "alert_rate": float(flagged.mean())}
        if y is not None:
            row["precision"], row["recall"], _ = flag_metrics(y, flagged)
        rows.append(row)
    return pd.DataFrame(rows)


def feature_importance(contributions: np.ndarray, feature_names: list[str]) -> pd.DataFrame:
    """Mean positive contribution of each feature to the explained rows' scores, largest first."""
    mean = np.clip(contributions, 0, None).mean(axis=0)
    return (pd.DataFrame({"feature": feature_names, "importance": mean})
            .sort_values("importance", ascending=False).reset_index(drop=True))


def importance_figure(importance: pd.DataFrame, top: int = 15) -> Figure:
    shown = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.5), dpi=100)
    ax.set_title("What drives the highest scores (occlusion)")
    ax.barh(shown["feature"], shown["importance"], color="tab:purple")
    ax.set(xlabel="mean score drop when the feature is reset to its median")
    fig.tight_layout()
    return fig
