"""What one retrain returns: the version it registered and the gate's decision on it."""

from __future__ import annotations

from pydantic import BaseModel


class TrainResult(BaseModel):
    parent_run_id: str
    version: str
    decision: str
    reason: str
    detector: str
    objective_name: str
    objective: float
    data_window: str
