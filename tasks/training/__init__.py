"""Retraining: load the window, sweep detectors with Optuna, and log reviewer artifacts to MLflow."""
