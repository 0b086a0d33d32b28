"""The feature-table suite (expectations/features.json): built from the feature catalogue, checked.

The JSON in the repo is what is reviewed and versioned; ``build_feature_suite_doc`` derives it
from ``tasks.features.catalogue`` plus the plausible ranges below, and a test fails when the two
disagree. After changing the catalogue, regenerate with
``python -m tasks.validation.feature_suite --write`` and bump the version.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import pandas as pd

from tasks.errors import ValidationStopped
from tasks.features.catalogue import (
    FEATURE_CATALOGUE,
    FEATURE_SCHEMA_VERSION,
    KEY_COLUMNS,
    all_columns,
)
from tasks.validation.fast_suite import certainly_passes
from tasks.validation.outcome import read_outcome
from tasks.validation.reading import dtype_problems
from tasks.validation.suites import (
    EXPECTATIONS_DIR,
    SuiteSpec,
    load_suite,
    suite_from_dict,
    to_gx_suite,
)

SUITE_NAME = "features"
SUITE_VERSION = "1.1.0"  # 1.1.0: entity features
ROW_COUNT_TOLERANCE = 0.01  # the table may differ from the active-user count by this share
ROW_COUNT_CHECK = "expect_table_row_count_to_be_between"

DAY_SECONDS = 86_400.0
# Plausible ranges by feature name: what a user-day can physically produce. Exact names first,
# then suffix/prefix rules; anything unmatched must at least be finite.
_EXACT_RANGES: dict[str, tuple[float, float]] = {
    "burstiness": (-1.0, 1.0),
    "age_band": (0.0, 5.0),
    "account_age_days": (0.0, 36_500.0),
    "days_signup_to_first_purchase": (0.0, 36_500.0),
    "log_minutes_signup_to_first_purchase": (0.0, 20.0),  # ln(1 + 100 years in minutes) is 17.8
    "gap_share_under_1s": (0.0, 1.0),
    "activity_vs_platform": (0.0, 1e7),
}
_SUFFIX_RANGES: tuple[tuple[str, tuple[float, float]], ...] = (
    ("_share", (0.0, 1.0)),
    ("_rate", (0.0, 1.0)),
    ("_s", (0.0, DAY_SECONDS)),
    ("_zscore", (-1e6, 1e6)),
    ("_users", (0.0, 1e7)),
)
_PREFIX_RANGES: tuple[tuple[str, tuple[float, float]], ...] = (
    ("n_", (0.0, 1e7)),
    ("distinct_", (0.0, 1e7)),
    ("new_", (0.0, 1e7)),
    ("spend_sum", (0.0, 1e10)),
    ("spend_max", (0.0, 1e10)),
)
_NON_NEGATIVE_WORDS = ("ratio", "per_", "path_length")
_FINITE = (-1e12, 1e12)


def plausible_range(name: str) -> tuple[float, float]:
    if name in _EXACT_RANGES:
        return _EXACT_RANGES[name]
    for suffix, bounds in _SUFFIX_RANGES:
        if name.endswith(suffix):
            return bounds
    for prefix, bounds in _PREFIX_RANGES:
        if name.startswith(prefix):
            return bounds
    if any(word in name for word in _NON_NEGATIVE_WORDS) and "log_ratio" not in name:
        return (0.0, 1e7)
    return _FINITE


def build_feature_suite_doc() -> dict[str, Any]:
    """The features suite as stored in expectations/features.json."""
    batch = {"level": "batch"}
    expectations: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": [spec.name for spec in all_columns()], "exact_match": True}, "meta": batch},
        {"type": ROW_COUNT_CHECK,
         "kwargs": {"min_value": {"$PARAMETER": "min_rows"}, "max_value": {"$PARAMETER": "max_rows"}},
         "meta": {**batch, "optional": "dropped when the caller gives no expected row count"}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": [k.name for k in KEY_COLUMNS]},
         "meta": {**batch, "why": "one row per user-day"}},
    ]
    expectations += [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": k.name}, "meta": batch}
                     for k in KEY_COLUMNS]
    for spec in FEATURE_CATALOGUE:
        if not spec.model_input:
            continue
        low, high = plausible_range(spec.name)
        expectations += [
            {"type": "expect_column_type_to_be", "kwargs": {"column": spec.name, "type_": spec.dtype}, "meta": batch},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": spec.name},
             "meta": {**batch, "why": "detectors cannot take nulls"}},
            {"type": "expect_column_values_to_be_between",
             "kwargs": {"column": spec.name, "min_value": low, "max_value": high}, "meta": batch},
        ]
    return {
        "name": SUITE_NAME,
        "meta": {
            "version": SUITE_VERSION,
            "feature_schema_version": FEATURE_SCHEMA_VERSION,
            "guards": "features/date=D/part-0.parquet (what the detectors consume)",
            "generated_by": "python -m tasks.validation.feature_suite --write",
            "levels": "every expectation is batch-level: a bad feature table stops the day",
            "parameters": {"min_rows": f"active users x (1 - {ROW_COUNT_TOLERANCE})",
                           "max_rows": f"active users x (1 + {ROW_COUNT_TOLERANCE})"},
        },
        "expectations": expectations,
    }


def validate_feature_table(df: pd.DataFrame, expected_rows: int | None) -> None:
    """Raise ValidationStopped (one line) unless ``df`` is a feature table the detectors can take.

    ``expected_rows`` is the day's active-user count; None skips the row-count check.
    """
    spec = load_suite(SUITE_NAME)
    problems = dtype_problems({str(c): str(t) for c, t in df.dtypes.items()}, spec)
    if problems:
        raise ValidationStopped(f"feature table: {'; '.join(problems)}")
    if expected_rows is None:
        spec = spec.without([ROW_COUNT_CHECK])
    frame = df.reset_index(drop=True)
    parameters = row_count_parameters(expected_rows)
    if certainly_passes(spec, frame, parameters):
        return  # the exact vectorised verdict; GX only runs to word a failure (see fast_suite.py)
    outcome = read_outcome(_run_ephemeral(spec, frame, parameters), frame)
    if outcome.batch_failures:
        raise ValidationStopped("feature table: " + "; ".join(str(f) for f in outcome.batch_failures))


def row_count_parameters(expected_rows: int | None) -> dict[str, int]:
    if expected_rows is None:
        return {}
    return {"min_rows": math.floor(expected_rows * (1 - ROW_COUNT_TOLERANCE)),
            "max_rows": math.ceil(expected_rows * (1 + ROW_COUNT_TOLERANCE))}


def _run_ephemeral(spec: SuiteSpec, frame: pd.DataFrame, parameters: dict[str, Any]):
    """Run the suite in a throwaway in-memory GX context (no Data Docs: the caller owns reporting)."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch = context.data_sources.add_pandas("features").add_dataframe_asset(SUITE_NAME) \
        .add_batch_definition_whole_dataframe("whole_frame")
    suite = context.suites.add(to_gx_suite(spec))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite))
    return definition.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters,
                          result_format={"result_format": "SUMMARY"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check or regenerate expectations/features.json from the catalogue.")
    parser.add_argument("--write", action="store_true", help="write the suite (otherwise exit 1 when it is stale)")
    args = parser.parse_args(argv)
    path = EXPECTATIONS_DIR / f"{SUITE_NAME}.json"
    doc = build_feature_suite_doc()
    suite_from_dict(doc)  # refuse to write a suite that does not load
    text = json.dumps(doc, indent=2) + "\n"
    if args.write:
        path.write_text(text, encoding="utf-8")
        return 0
    return 0 if path.exists() and path.read_text(encoding="utf-8") == text else 1


if __name__ == "__main__":
    raise SystemExit(main())
