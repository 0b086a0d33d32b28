"""``shopguard benchmark``: compare detectors on a labelled table, print a table, write JSON.

A plain function rather than a Prefect flow on purpose: it is an offline, single-process
comparison with nothing to schedule or retry, and it should not wait ~10 s for a Prefect server.
The protocol itself lives in ``models.evaluation``; file IO in ``tasks``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.evaluation import BenchmarkRow, run_protocol
from models.registry import detector_names
from tasks.benchmark_data import BenchmarkDataError, load_labelled_table
from tasks.parquet_io import write_text_atomic

log = logging.getLogger(__name__)

COLUMNS = (("detector", "{:<36}"), ("labels", "{:>6}"), ("roc_auc", "{:>8.3f}"), ("average_precision", "{:>8.3f}"),
           ("f1", "{:>6.3f}"), ("fit_seconds", "{:>8.2f}"), ("score_seconds", "{:>8.3f}"))
HEADERS = ("detector", "labels", "ROC-AUC", "AP", "F1", "fit s", "score s")


def format_table(rows: list[BenchmarkRow]) -> str:
    widths = [len(fmt.format("" if i < 2 else 0.0)) for i, (_, fmt) in enumerate(COLUMNS)]
    lines = [" ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(HEADERS, widths, strict=True)))]
    for row in rows:
        label = row.detector if row.detector != "auto" else f"auto -> {row.details['chosen']}"
        values = [label, "yes" if row.uses_labels else "no"] + [getattr(row, key) for key, _ in COLUMNS[2:]]
        lines.append(" ".join(fmt.format(v) for v, (_, fmt) in zip(values, COLUMNS, strict=True)))
    return "\n".join(lines)


def write_table(text: str) -> None:
    sys.stdout.write(text + "\n")


def _check_detectors(detectors: list[str] | None) -> list[str]:
    names = detectors or detector_names()
    unknown = [n for n in names if n not in detector_names()]
    if unknown:
        raise BenchmarkDataError(f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(detector_names())}")
    return names


def run_benchmark(data: Path, label_col: str = "y", detectors: list[str] | None = None,
                  out: Path | None = None) -> dict[str, Any]:
    """Run the protocol on ``data``; print the table, write JSON to ``out`` if given, return the results."""
    names = _check_detectors([d.strip() for d in detectors if d.strip()] if detectors else None)
    X, y = load_labelled_table(Path(data), label_col)
    rows = run_protocol(X.to_numpy(), y, names)
    result = {
        "data": str(data),
        "rows": len(y),
        "features": X.shape[1],
        "anomalies": int(y.sum()),
        "protocol": "stratified 70/30 split, seed 42; validation slice = 25% of the training part",
        "label_free_row": "label_free ranks without labels; rows with uses_labels=true used them",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": [r.as_dict() for r in rows],
    }
    write_table(format_table(rows))
    if out is not None:
        write_text_atomic(Path(out), json.dumps(result, indent=2, default=float))
        log.info("wrote %s", out)
    return result
