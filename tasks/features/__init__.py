"""The behaviour feature store: user-day features from validated events (see catalogue.py).

Submodules are imported explicitly (``from tasks.features.catalogue import ...``) so reading the
catalogue never pulls in DuckDB.
"""
