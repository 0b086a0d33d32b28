"""A reviewer's view: a real `mlflow server` on loopback, a small sweep, headless Chromium.

Needs Debian's chromium + chromium-driver (`make browser-deps`). The screenshot is kept in
test-artifacts/ so a human can see what was asserted.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import headless_chromium
from test_training_units import END, write_feature_window

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = (tmp_path / "mlflow-server.log").open("w")
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start: {(tmp_path / 'mlflow-server.log').read_text()[-500:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def browser():
    with headless_chromium() as driver:
        yield driver


def test_reviewer_sees_parent_run_nested_trials_and_metric_column(prefect_harness, mlflow_server, browser,
                                                                  settings, artifacts_dir):
    from mlflow import MlflowClient
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from flows.train import train_flow
    from tasks.mlflow_links import runs_table_url
    from tasks.tracking import configure_mlflow

    settings.mlflow_tracking_uri = mlflow_server
    settings.training.detectors = ["gaussian", "ecod"]
    write_feature_window(settings, users=200, anomaly_share=0.02)
    result = train_flow(end=END, settings=settings, trials=3)
    experiment_id = configure_mlflow(settings)

    experiment = MlflowClient(tracking_uri=mlflow_server).get_experiment(experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the ML view, not GenAI
    browser.get(f"{mlflow_server}/#/experiments/{experiment_id}/runs")
    wait = WebDriverWait(browser, 60)
    parent_name = "retrain 2026-01-01..2026-01-07 (manual)"
    wait.until(ec.presence_of_element_located((By.XPATH, f'//a[.//text()="{parent_name}"]')))
    for close in browser.find_elements(By.CSS_SELECTOR, 'button[aria-label="Close"]'):
        close.click()  # the assistant side panel hides the table's right-hand columns

    # Show the val_roc_auc metric column, then expand the parent run to its nested trials.
    browser.find_element(By.CSS_SELECTOR, '[data-testid="column-selection-dropdown"]').click()
    wait.until(ec.element_to_be_clickable((By.XPATH, '//*[text()="val_roc_auc"]'))).click()
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    expander = wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, 'button[data-component-id$="runnamecellrenderer.tsx_46"]')))
    expander.click()
    wait.until(ec.presence_of_element_located((By.XPATH, '//a[starts-with(normalize-space(.), "trial-002")]')))

    run_links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, 'a[href*="/runs/"]') if a.text]
    header = browser.find_elements(By.XPATH, '//*[contains(@class, "ag-header")]//*[text()="val_roc_auc"]')
    browser.save_screenshot(str(artifacts_dir / "mlflow_ui_sweep.png"))

    assert parent_name in run_links
    assert {"trial-000", "trial-001", "trial-002"} <= {name.split()[0] for name in run_links}
    assert header and header[0].is_displayed()
    assert result.parent_run_id in browser.page_source

    # the URL the demo prints: the reviewer's saved view (an experiment tag the UI reads through
    # ?viewStateShareKey=), sorted by the agreed metric with the agreed columns shown
    from tasks.mlflow_links import REVIEW_METRICS, REVIEW_PARAMS

    browser.get(runs_table_url(mlflow_server, experiment_id))
    wait.until(ec.presence_of_element_located((By.XPATH, f'//a[.//text()="{parent_name}"]')))
    assert wait.until(lambda b: "val_average_precision" in b.page_source)
    for close in browser.find_elements(By.CSS_SELECTOR, 'button[aria-label="Close"]'):
        close.click()
    for column in (*REVIEW_PARAMS, *REVIEW_METRICS):  # a column not selected has no header cell at all
        wait.until(ec.presence_of_element_located(
            (By.XPATH, f'//*[contains(@class, "ag-header")]//*[text()="{column}"]')), message=column)
    browser.save_screenshot(str(artifacts_dir / "mlflow_ui_review_view.png"))
