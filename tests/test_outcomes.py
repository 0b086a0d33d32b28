"""The demo summary's arithmetic: precision and recall against labels, and the table."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tasks.outcomes import DayOutcome, format_outcomes, precision_recall, score_vs_labels


def test_precision_recall_counts():
    flagged = pd.Series([True, True, False, False, True])
    truth = pd.Series([True, False, True, False, True])
    assert precision_recall(flagged, truth) == (2 / 3, 2 / 3)


def test_undefined_precision_and_recall_are_none():
    assert precision_recall(pd.Series([False, False]), pd.Series([False, False])) == (None, None)


def test_users_without_labels_count_as_normal():
    scores = pd.DataFrame({"user_id": ["a", "b", "c"], "is_anomaly": [True, True, False]})
    labels = pd.DataFrame({"user_id": ["a", "c"], "is_anomaly": [True, True]})
    precision, recall = score_vs_labels(scores, labels)
    assert precision == 0.5 and recall == 0.5


def test_table_shows_missing_values_as_dashes():
    row = DayOutcome(day=date(2026, 1, 8), status="validation stopped", events=50, users_scored=None,
                     users_flagged=None, precision=None, recall=None, drift_share=None, retrain="-")
    table = format_outcomes([row])
    assert "2026-01-08" in table and "validation stopped" in table
    assert table.splitlines()[-1].split()[-1] == "-"


def test_a_failed_retrain_is_not_reported_with_a_decision():
    from tasks.monitoring.oncall_page import DayStatus, day_sentence, day_status
    from tasks.outcomes import retrain_words
    from tasks.run_status import DayRecord

    record = DayRecord.model_validate({"date": "2026-01-08", "retrain": {
        "triggered": True, "error": "retrain deployment run ended Failed", "promotion_decision": None}})
    assert retrain_words(record) == "yes (failed)"
    assert day_status(record) == DayStatus.RETRAINED
    assert "the retrain failed: retrain deployment run ended Failed" in day_sentence(record, DayStatus.RETRAINED)
