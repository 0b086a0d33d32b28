"""`shopguard ingest`: a user's own event or order table mapped into the raw contract (DESIGN.md)."""
