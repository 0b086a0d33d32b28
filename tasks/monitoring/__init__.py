"""Monitoring for on-call: drift reports, the retrain rule and its cooldown, the on-call page."""
