"""Batch scoring: load the champion, score a day's user-days, rank alerts for on-call."""
