"""The on-call page, alerts page and drift wrapper rendered from typed day records (no servers)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tasks.layout import DataLayout
from tasks.monitoring.oncall_page import DayStatus, day_markdown, write_oncall_page
from tasks.reports.day_pages import write_day_pages
from tasks.run_status import DayRecord, read_day_record, record_training_window, update_day_status

DAYS = [date(2026, 1, 8) + timedelta(days=i) for i in range(5)]
SCORING = {"users_scored": 3000, "alerts": 30, "alert_rate": 0.01, "model_version": "1", "run_id": "abc",
           "experiment_id": "1", "threshold": 0.5}
CALM = {"feature_count": 38, "drifted_features": ["n_views"], "drift_scores": {"n_views": 0.12},
        "drift_detected": False, "reasons": ["no drift"]}
MOVED = [f"n_{i}" for i in range(12)]
DRIFTED = {"feature_count": 38, "drifted_features": MOVED, "drift_scores": {c: 0.1 + i / 100 for i, c in enumerate(MOVED)},
           "drift_share": 12 / 38, "drift_detected": True, "retrain_recommended": True, "score_drifted": True,
           "alert_rate": 0.1, "alert_rate_band": [0.005, 0.03], "reasons": ["12 of 38 features drifted (32% > 30%)"]}


def _promotion_day(layout: DataLayout, day: date) -> None:
    update_day_status(layout, day, "scoring", {**SCORING, "alerts": 300, "alert_rate": 0.1})
    update_day_status(layout, day, "drift", DRIFTED)
    update_day_status(layout, day, "retrain", {"triggered": True, "mode": "in-process", "model_version": "2",
                                              "run_id": "def", "promotion_decision": "promoted",
                                              "promotion_reason": "average precision 0.96 beats 0.84"})


def test_each_row_says_what_happened_and_what_to_do(tmp_path):
    layout = DataLayout(tmp_path)
    record_training_window(layout, DAYS[:1], "1")
    update_day_status(layout, DAYS[0], "features", {"rows": 2000})
    update_day_status(layout, DAYS[1], "scoring", SCORING)
    update_day_status(layout, DAYS[1], "drift", CALM)
    _promotion_day(layout, DAYS[2])
    update_day_status(layout, DAYS[3], "scoring", SCORING)
    update_day_status(layout, DAYS[3], "drift", {**DRIFTED, "retrain_recommended": False, "blocked_by_cooldown": True,
                                                 "reasons": [*DRIFTED["reasons"], "cooldown: last drift retrain was "
                                                             "for 2026-01-10 (1 d ago, cooldown 3 d)"]})
    update_day_status(layout, DAYS[4], "daily", {"outcome": "validation stopped", "stage": "validation",
                                                 "reason": "12% of rows failed checks"})

    by_day = {r.day: r for r in write_oncall_page(layout, tracking_uri="http://127.0.0.1:5000")}
    assert [by_day[d].status for d in DAYS] == [DayStatus.TRAINING, DayStatus.OK, DayStatus.RETRAINED, DayStatus.DRIFT,
                                                DayStatus.STOPPED]
    assert by_day[DAYS[0]].sentence == "Features for 2,000 users; training window of v1, so not scored."
    assert by_day[DAYS[1]].sentence.startswith("3,000 users scored, 30 flagged (1.0%) by model v1; no drift (1 of 38")
    promotion = by_day[DAYS[2]]
    assert "drift in 12 of 38 features" in promotion.sentence
    assert "10.0% flagged against a usual 0.5%-3.0%: today's alerts are inflated by this known shift" in promotion.sentence
    assert "retrain started; challenger v2 promoted: average precision 0.96 beats 0.84" in promotion.sentence
    assert "v2 learned the shift and serves from the next day" in promotion.todo
    assert "no retrain (cooldown: last drift retrain was for 2026-01-10" in by_day[DAYS[3]].sentence
    assert by_day[DAYS[4]].sentence == "Validation stopped the day: 12% of rows failed checks. Nothing was scored."
    assert by_day[DAYS[2]].links["MLflow: retrain run"] == "http://127.0.0.1:5000/#/experiments/1/runs/def"

    # moved features: largest PSI first, capped with "and N more"; never "Drifted:" beside "no drift"
    details = promotion.details
    moved = [d.strip() for d in details if d.startswith("  ")]
    assert moved[0].startswith("n_11 (PSI 0.21)") and moved[-1] == "and 4 more" and len(moved) == 9
    assert not any(d.startswith("Drifted:") for r in by_day.values() for d in r.details)

    page = layout.oncall_index.read_text()
    assert page.index("2026-01-12") < page.index("2026-01-08")  # newest first
    assert "What to do: Raw data failed validation" in page  # the latest day's advice comes first
    assert page.count("<tr id=") == 5 and "<script" not in page
    assert "01-09" in page and "share of users flagged per day, 2026-01-09 to 2026-01-11" in page  # dated chart
    assert "n_views (PSI 0.12) - Item views on the day." in page  # catalogue meaning
    markdown = day_markdown(promotion)
    assert markdown.startswith("# shopguard 2026-01-10: retrained") and "challenger v2 promoted" in markdown


def test_a_failed_command_on_an_empty_day_is_not_the_headline_and_success_supersedes_a_failure(tmp_path):
    layout = DataLayout(tmp_path)
    update_day_status(layout, DAYS[0], "scoring", SCORING)
    update_day_status(layout, DAYS[0], "drift", CALM)
    # `shopguard daily` on a day with no raw data, run by hand
    update_day_status(layout, DAYS[3], "daily", {"outcome": "no input", "stage": "validation",
                                                 "reason": "no raw events for 2026-01-11"})
    # a real failure at scoring on another day, then the day rescored successfully
    update_day_status(layout, DAYS[1], "features", {"rows": 10})
    update_day_status(layout, DAYS[1], "daily", {"outcome": "failed", "stage": "scoring", "reason": "MLflow down"})
    rows = {r.day: r for r in write_oncall_page(layout, tracking_uri="sqlite:///x.db")}
    assert rows[DAYS[3]].status == DayStatus.NO_INPUT and rows[DAYS[1]].status == DayStatus.FAILED
    headline = layout.oncall_index.read_text().split('id="headline"')[1].split("</p>")[0]
    assert "2026-01-09" in headline and "MLflow down" in headline  # the failure on-call must fix, not the empty day

    update_day_status(layout, DAYS[1], "scoring", SCORING)
    assert read_day_record(layout, DAYS[1]).failure is None
    rows = {r.day: r for r in write_oncall_page(layout, tracking_uri="sqlite:///x.db")}
    assert rows[DAYS[1]].status == DayStatus.OK
    headline = layout.oncall_index.read_text().split('id="headline"')[1].split("</p>")[0]
    assert "2026-01-09" in headline and ">OK<" in headline and "2026-01-11" not in headline


def test_a_record_rejects_a_section_of_the_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match="outcome"):
        update_day_status(DataLayout(tmp_path), DAYS[0], "daily", {"outcome": "went fine"})
    assert DayRecord.model_validate_json('{"date": "2026-01-08"}').failure is None


def test_alerts_page_has_severity_links_and_a_banner_on_a_shifted_day(tmp_path):
    from tasks.scoring.io import write_day_alerts

    layout = DataLayout(tmp_path)
    _promotion_day(layout, DAYS[2])
    alerts = pd.DataFrame({"rank": [1, 2], "user_id": ["u1", "u2"], "date": [DAYS[2]] * 2, "anomaly_score": [1.5, 0.6],
                           "severity": [3.0, 1.2], "score_percentile": [0.999, 0.95], "kind_guess": ["coupon_abuse", "unclear"],
                           "top_features": ["n_coupon_applies", "n_views"], "reasons": ["n_coupon_applies 9 (usual 0)", "x"],
                           "model_version": ["1", "1"]})
    write_day_alerts(layout, DAYS[2], alerts)
    (layout.drift_report(DAYS[2])).mkdir(parents=True)
    (layout.drift_report(DAYS[2]) / "report.html").write_text("<html>evidently</html>")
    write_day_pages(layout, read_day_record(layout, DAYS[2]))

    page = (layout.reports / "alerts" / "date=2026-01-10.html").read_text()
    assert 'id="shift-banner"' in page and "inflated by the shift" in page and "against a usual 0.5%-3.0%" in page
    assert "3.00&times;" in page and "99.90%" in page and "coupon abuse" in page
    assert 'href="../index.html"' in page and 'href="../drift/date=2026-01-10/index.html"' in page
    wrapper = (layout.drift_report(DAYS[2]) / "index.html").read_text()
    assert "Drift report for 2026-01-10" in wrapper and "Retrain started; challenger v2 promoted" in wrapper
    assert 'href="../../alerts/date=2026-01-10.html"' in wrapper and "<dt>reference window</dt>" in wrapper
    assert (layout.drift_report(DAYS[2]) / "report.html").read_text() == "<html>evidently</html>"  # wrapped, not edited


def test_heavy_tailed_histogram_bins_on_a_log_scale():
    import numpy as np

    from tasks.reports.histograms import histogram

    rng = np.random.default_rng(0)
    reference = pd.Series(np.r_[rng.poisson(5, 990), rng.poisson(500, 10)])  # 1% bots with 100x the events
    h = histogram("n_events", reference, reference * 2)
    assert h.log_scale and len(h.edges) == len(h.reference_share) + 1
    assert max(h.reference_share) < 0.5  # the bulk spreads over several bars instead of one
    assert sum(h.reference_share) == pytest.approx(1.0, abs=1e-3)
    assert not histogram("share", pd.Series(rng.uniform(0, 1, 500)), pd.Series(rng.uniform(0, 1, 500))).log_scale


def test_data_docs_index_links_every_suite_per_day_without_network_assets(tmp_path):
    layout = DataLayout(tmp_path)
    for suite, day, success in (("raw_events", "2026-01-08", True), ("users", "2026-01-08", True),
                                ("raw_events", "2026-01-09", False)):
        relative = Path(suite) / day / f"{day.replace('-', '')}T000000.000000Z" / f"shopguard_frames-{suite}.html"
        page = layout.data_docs / "validations" / relative
        page.parent.mkdir(parents=True)
        page.write_text("<table><tr><td>gx</td></tr></table>")
        stored = (tmp_path / "gx" / "uncommitted" / "validations" / relative).with_suffix(".json")
        stored.parent.mkdir(parents=True)
        stored.write_text(json.dumps({"success": success}))
    update_day_status(layout, DAYS[1], "validation", {"rows_in": 10, "rows_validated": 10})

    rows = {r.day: r for r in write_oncall_page(layout, tracking_uri="sqlite:///x.db")}
    index = (layout.reports / "data_docs.html").read_text()
    assert "<script" not in index and "cdn" not in index.lower().replace("needs network", "")
    assert index.count("<tr><td class=\"day\">") == 3 and "<b>failed</b>" in index
    assert 'href="data_docs/validations/users/2026-01-08/' in index
    assert rows[DAYS[1]].links["Data Docs: raw_events (failed)"].startswith("data_docs/validations/raw_events/2026-01-09/")
    assert 'href="data_docs.html"' in layout.oncall_index.read_text()


def test_kind_guess_accuracy_is_measured_against_anomaly_type_labels():
    from tasks.training.plots import kind_guess_accuracy

    kinds = pd.Series(["card_testing", "card_testing", "scraper_bot", "coupon_abuse", None])
    top = pd.Series(["payment_failure_rate;n_views", "n_views", "n_views;gap_min_s", "n_coupon_applies", "n_views"])
    table = kind_guess_accuracy(kinds, top).set_index("kind")
    assert table.loc["card_testing", "accuracy"] == 0.5 and table.loc["card_testing", "alerted"] == 2
    assert table.loc["scraper_bot", "accuracy"] == 1.0 and table.loc["coupon_abuse", "guessed_right"] == 1
    assert len(table) == 3  # unlabelled rows are not counted


def test_reviewer_plots_come_from_scikit_learn_displays():
    import numpy as np

    from tasks.training import plots

    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(95, dtype=bool), np.ones(5, dtype=bool)]
    scores = np.r_[rng.normal(0, 1, 95), rng.normal(3, 1, 5)]
    roc, pr, confusion = plots.roc_figure(y, scores), plots.pr_figure(y, scores), plots.confusion_figure(y, scores > 2)
    assert "AUC" in roc.axes[0].get_legend().get_texts()[0].get_text()  # RocCurveDisplay's own legend
    assert "AP" in pr.axes[0].get_legend().get_texts()[0].get_text()
    cells = sorted(int(t.get_text()) for t in confusion.axes[0].texts)
    assert sum(cells) == 100
    table = plots.threshold_table(scores, y, fitted_threshold=2.0).set_index("cutoff")
    flagged = scores > 2.0
    assert table.loc["fitted", "precision"] == pytest.approx((flagged & y).sum() / flagged.sum())
    assert table.loc["fitted", "recall"] == pytest.approx((flagged & y).sum() / 5)
    for figure in (roc, pr, confusion):
        plots.close(figure)
