"""The served model (MLflow pyfunc), its registration, and the champion/challenger promotion gate.

Kept import-free: the served model bundles this package, so importing it must stay cheap.
"""
