"""Build the reviewer artifacts for the sweep's best and log them to the parent run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient

from tasks.registry.serving import score_with_reasons
from tasks.training import plots
from tasks.training.objective import TrialResult
from tasks.training.window import WindowData

EXPLAINED_ROWS = 300


@dataclass
class Review:
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def importance(self) -> pd.DataFrame:
        return self.tables["feature_importance"]

    @property
    def by_kind(self) -> pd.DataFrame | None:
        return self.tables.get("recall_by_kind")

    @property
    def kind_guess(self) -> pd.DataFrame | None:
        return self.tables.get("kind_guess_accuracy")


def build_review(best: TrialResult, data: WindowData) -> Review:
    """Curves, histograms, confusion matrix, recall per kind, threshold table and importance."""
    assert best.detector is not None and best.val_scores is not None
    detector, scores = best.detector, best.val_scores
    rows = data.validation if len(data.validation) else data.fit
    y = data.labels
    review = Review()
    review.figures["score_histogram.png"] = plots.score_histogram(scores, detector.threshold_, y)
    review.tables["threshold_table"] = plots.threshold_table(scores, y, detector.threshold_)
    if y is not None:
        flagged = scores > detector.threshold_
        review.figures["roc_curve.png"] = plots.roc_figure(y, scores)
        review.figures["pr_curve.png"] = plots.pr_figure(y, scores)
        review.figures["confusion_matrix.png"] = plots.confusion_figure(y, flagged)
        by_kind = plots.recall_by_kind(data.validation["anomaly_type"], flagged)
        if len(by_kind):
            review.tables["recall_by_kind"] = by_kind
            review.figures["recall_by_kind.png"] = plots.recall_by_kind_figure(by_kind)
        alerted = data.validation[flagged & y]
        if len(alerted):  # explain as serving does, then check the kind guess against the label
            served = score_with_reasons(detector, alerted[data.feature_names])
            review.tables["kind_guess_accuracy"] = plots.kind_guess_accuracy(alerted["anomaly_type"],
                                                                             served["top_features"])
    top_rows = np.argsort(-scores, kind="stable")[:EXPLAINED_ROWS]
    contributions = detector.feature_contributions(rows.iloc[top_rows][data.feature_names])
    review.tables["feature_importance"] = plots.feature_importance(contributions, data.feature_names)
    review.figures["feature_importance.png"] = plots.importance_figure(review.importance)
    return review


def log_review(client: MlflowClient, run_id: str, review: Review) -> None:
    for name, figure in review.figures.items():
        client.log_figure(run_id, figure, f"review/{name}")
        plots.close(figure)
    for name, table in review.tables.items():
        client.log_text(run_id, table.to_csv(index=False), f"review/{name}.csv")
