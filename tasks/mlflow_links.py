"""Links into the MLflow UI that on-call pages and the demo print (pure string building).

MLflow 3.17's UI keeps the runs table's columns in the browser's storage, and its URL parameters
cover only the search facets (filter, ``orderByKey``/``orderByAsc``, ...), not the columns. What the
UI does read from a URL is a saved view: ``?viewStateShareKey=K`` loads the experiment tag
``mlflow.sharedViewState.K`` (the envelope its own "Save view" / "Share" button writes: a name,
times in ms, and the view state as a JSON string). The reviewer's view is written that way once
per experiment (``tasks.tracking.configure_mlflow``) and the printed URL points at it.
"""

from __future__ import annotations

import json
from urllib.parse import quote

# the reviewer's table: best validation average precision first
REVIEW_ORDER_METRIC = "val_average_precision"
# the agreed columns: the detector, the objective and its precision at the alert budget, the tie-break
REVIEW_METRICS = ("val_recall_at_budget", "val_precision_at_budget", "val_average_precision", "val_roc_auc")
REVIEW_PARAMS = ("detector",)
REVIEW_VIEW_KEY = "shopguard-review"
REVIEW_VIEW_NAME = "shopguard review (agreed metrics)"
SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."  # the UI's prefix for saved views


def _server(tracking_uri: str) -> str | None:
    return tracking_uri.rstrip("/") if tracking_uri.startswith("http") else None


def run_url(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The run's page on an MLflow server (None for a local store: nothing to click on)."""
    server = _server(tracking_uri)
    if not (server and experiment_id and run_id):
        return None
    return f"{server}/#/experiments/{experiment_id}/runs/{run_id}"


def _column(kind: str, name: str) -> str:
    return f"{kind}.`{name}`"  # the UI's canonical column key


def review_view_state() -> dict:
    """The runs table a reviewer opens: sorted by the agreed metric, the agreed columns shown."""
    return {
        "orderByKey": _column("metrics", REVIEW_ORDER_METRIC),
        "orderByAsc": False,
        "selectedColumns": [_column("params", p) for p in REVIEW_PARAMS]
        + [_column("metrics", m) for m in REVIEW_METRICS],
        "runsHiddenMode": "SHOW_ALL",
    }


def review_view_tag(now_ms: int) -> tuple[str, str]:
    """(experiment tag key, value) of the reviewer's saved view, in the UI's envelope."""
    envelope = {"name": REVIEW_VIEW_NAME, "createdAt": now_ms, "updatedAt": now_ms,
                "state": json.dumps(review_view_state())}
    return SHARED_VIEW_TAG_PREFIX + REVIEW_VIEW_KEY, json.dumps(envelope)


def holds_review_view(tag_value: str | None) -> bool:
    """Whether an experiment tag already carries today's reviewer view (so it is not rewritten)."""
    try:
        return json.loads(json.loads(tag_value or "")["state"]) == review_view_state()
    except (ValueError, KeyError, TypeError):
        return False


def runs_table_url(ui_url: str, experiment_id: str) -> str:
    """The experiment's runs table in the reviewer's saved view (sort and columns).

    No other query parameter may ride along: the UI ignores a saved view when the URL also
    carries search facets.
    """
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={quote(REVIEW_VIEW_KEY)}"
