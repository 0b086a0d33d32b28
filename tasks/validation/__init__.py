"""The data validation gate: Great Expectations suites from expectations/, quarantine, stops.

Entry points: ``day.validate_day`` (one day of raw events, used by flows/validate.py) and
``feature_suite.validate_feature_table`` (the guard in front of the detectors).
"""

from tasks.validation.feature_suite import validate_feature_table
from tasks.validation.summary import ValidationSummary

__all__ = ["ValidationSummary", "validate_feature_table"]
