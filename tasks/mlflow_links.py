"""Links into the MLflow UI that on-call pages and the demo print (pure string building)."""

from __future__ import annotations

from urllib.parse import urlencode

# the reviewer's table: best validation average precision first
REVIEW_ORDER_METRIC = "val_average_precision"


def _server(tracking_uri: str) -> str | None:
    return tracking_uri.rstrip("/") if tracking_uri.startswith("http") else None


def run_url(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The run's page on an MLflow server (None for a local store: nothing to click on)."""
    server = _server(tracking_uri)
    if not (server and experiment_id and run_id):
        return None
    return f"{server}/#/experiments/{experiment_id}/runs/{run_id}"


def runs_table_url(ui_url: str, experiment_id: str) -> str:
    """The experiment's runs table, sorted by the agreed metric so its column is shown first."""
    query = urlencode({"orderByKey": f"metrics.`{REVIEW_ORDER_METRIC}`", "orderByAsc": "false"})
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"
