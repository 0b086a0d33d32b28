"""The daily loop end to end on a small synthetic world: real Prefect, MLflow, GX, Evidently, training.

Days 1-5 train the first champion; day 6 is ordinary, day 7 is the promotion day (drift -> retrain).
Day 8's raw feed is cut to a sliver, so validation stops it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_scoring import make_settings

from tasks.errors import ShopguardError
from tasks.layout import DataLayout
from tasks.run_status import read_day_status

START = date(2026, 1, 1)
DAYS = [START + timedelta(days=i) for i in range(8)]
TRAIN_DAYS = 5
ORDINARY, PROMOTION, BROKEN = DAYS[TRAIN_DAYS:]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(prefect_harness, tmp_path_factory):
    """Generate the world, build the training days and train the first champion on them."""
    from flows.features import features_flow
    from flows.generate import generate_flow
    from flows.train import train_flow
    from flows.validate import validate_flow

    settings = make_settings(tmp_path_factory.mktemp("daily") / "data",
                             training={"trials": 2, "detectors": ["isolation_forest", "gaussian"]})
    generate_flow(settings=settings, start=START, days=len(DAYS), users=500, seed=5, promotion_day=PROMOTION)
    layout = DataLayout(settings.data_dir)
    parts = sorted(layout.raw_events(BROKEN).glob("*.parquet"))
    sliver = pq.ParquetFile(parts[0]).read().slice(0, 50)
    for part in parts:
        part.unlink()
    pq.write_table(sliver, parts[0])  # a feed outage: a sliver of the usual volume, same schema
    for day in DAYS[:TRAIN_DAYS]:
        validate_flow(day=day, settings=settings)
        features_flow(day=day, settings=settings)
    first = train_flow(end=DAYS[TRAIN_DAYS - 1], settings=settings, window_days=TRAIN_DAYS, trigger="manual")
    return settings, first


def test_promotion_day_drifts_and_retrains_an_ordinary_day_does_not(world):
    from flows.backfill import backfill_flow

    settings, first = world
    layout = DataLayout(settings.data_dir)
    with pytest.raises(ShopguardError, match=rf"backfill: 1 of 3 days failed \({BROKEN}\)"):
        backfill_flow(start=ORDINARY, end=BROKEN, settings=settings)

    ordinary, promotion, broken = (read_day_status(layout, d) for d in (ORDINARY, PROMOTION, BROKEN))
    assert not ordinary["drift"]["drift_detected"] and "retrain" not in ordinary
    assert promotion["drift"]["drift_detected"] and promotion["drift"]["retrain_recommended"]
    assert promotion["retrain"]["triggered"] and promotion["retrain"]["mode"] == "in-process"
    assert promotion["retrain"]["promotion_decision"] in {"promoted", "rejected"}
    assert promotion["retrain"]["model_version"] == str(int(first.version) + 1)
    assert broken["daily"]["outcome"] == "validation stopped"

    scores = pd.read_parquet(layout.scores(ORDINARY) / "part-0.parquet")
    assert (scores["model_version"] == first.version).all()

    page = layout.oncall_index.read_text()
    for day in (ORDINARY, PROMOTION, BROKEN):
        assert f"<td class='day'>{day}</td>" in page
    assert f"challenger v{promotion['retrain']['model_version']}" in page
    assert ">validation stopped</span>" in page and "Nothing was scored" in page


def test_on_call_summary_is_a_prefect_artifact(world):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    assert read_day_status(DataLayout(world[0].data_dir), PROMOTION), "runs after the end-to-end test"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"oncall-{PROMOTION}"])))
    latest = max(artifacts, key=lambda a: a.created)  # monitor posts first, the daily flow updates it
    assert latest.type == "markdown"
    assert latest.data.startswith(f"# shopguard {PROMOTION}: retrained")
    assert "retrain started; challenger v" in latest.data


def test_backfill_skips_completed_days_unless_forced(world):
    from flows.backfill import backfill_flow

    settings, _ = world
    layout = DataLayout(settings.data_dir)
    scores = layout.scores(ORDINARY) / "part-0.parquet"
    before, written = pd.read_parquet(scores), scores.stat().st_mtime_ns
    assert backfill_flow(start=ORDINARY, end=PROMOTION, settings=settings) == {
        ORDINARY.isoformat(): "skipped (already completed)", PROMOTION.isoformat(): "skipped (already completed)"}
    assert scores.stat().st_mtime_ns == written  # not rerun

    assert backfill_flow(start=ORDINARY, end=ORDINARY, settings=settings, force=True) == {ORDINARY.isoformat(): "OK"}
    after = pd.read_parquet(scores)
    assert scores.stat().st_mtime_ns != written
    assert len(after) == len(before) and after["user_id"].is_unique  # replaced, not appended


@pytest.mark.browser
def test_on_call_follows_the_promotion_day_to_its_drift_report_and_alerts_and_back(world, artifacts_dir):
    from chromium import headless_chromium
    from selenium.webdriver.common.by import By

    settings, _ = world
    layout = DataLayout(settings.data_dir)
    promotion = read_day_status(layout, PROMOTION)
    assert promotion["retrain"]["triggered"], "runs after the end-to-end test"
    version = promotion["retrain"]["model_version"]
    with headless_chromium() as browser:
        browser.get(layout.oncall_index.resolve().as_uri())
        row = browser.find_element(By.ID, f"day-{PROMOTION}")
        assert "retrained" in row.text and "today's alerts are inflated by this known shift" in row.text
        assert f"retrain started; challenger v{version}" in row.text
        assert ("learned the shift and serves from the next day" in row.text if promotion["retrain"]["promotion_decision"]
                == "promoted" else "The gate kept the current model" in row.text)
        first_days = browser.find_element(By.ID, f"day-{START}").text
        assert "training window of v1" in first_days and "so not scored" in first_days
        assert "validation stopped" in browser.find_element(By.ID, "headline").text  # the latest day with news
        assert browser.find_elements(By.XPATH, "//*[local-name()='svg']/*[local-name()='text'][contains(., '01-0')]")  # dated chart
        browser.save_screenshot(str(artifacts_dir / "oncall_page.png"))

        row.find_element(By.LINK_TEXT, "drift report").click()
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Drift report for {PROMOTION}"
        facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
        assert "model version\nv1" in facts and f"reference window\n{START}..{DAYS[TRAIN_DAYS - 1]}" in facts
        assert f"Retrain started; challenger v{version}" in facts
        moved = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#moved li")]
        psi = [float(m.split("(PSI ")[1].split(")")[0]) for m in moved if "(PSI " in m]
        assert psi == sorted(psi, reverse=True) and len(psi) <= 12
        assert len(browser.find_elements(By.CSS_SELECTOR, ".hists svg")) >= 2
        browser.save_screenshot(str(artifacts_dir / "drift_wrapper.png"))

        browser.find_element(By.ID, "alerts-link").click()
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Alerts for {PROMOTION}"
        assert "inflated by the shift" in browser.find_element(By.ID, "shift-banner").text
        first_alert = browser.find_elements(By.CSS_SELECTOR, "tbody tr")[0].text
        assert "\u00d7" in first_alert and "%" in first_alert  # severity and percentile beside the score
        browser.save_screenshot(str(artifacts_dir / "alerts_page.png"))

        browser.find_element(By.ID, "back").click()
        assert browser.title == "shopguard on-call"
        browser.find_element(By.ID, f"day-{PROMOTION}").find_element(By.LINK_TEXT, "alerts").click()
        browser.find_element(By.ID, "drift-link").click()
        browser.find_element(By.ID, "back").click()
        assert browser.title == "shopguard on-call"
