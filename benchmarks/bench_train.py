"""Benchmark: a 6-trial retrain on ~20k user-days (7 days x 2,900 users, 40 features).

Times the whole train flow (sweep, reviewer artifacts, registration, gate) after a warm-up run.
Uses the tests' synthetic feature-window writer, so run it from the repository root.
Target: the flow well under a minute, so the demo stays under 5 minutes.
Run: python -m benchmarks.bench_train
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

USERS_PER_DAY = 2900
TRIALS = 6


def _report(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from prefect.testing.utilities import prefect_test_harness
    from test_training_units import END, write_feature_window

    from flows.train import train_flow
    from tasks.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp, prefect_test_harness(server_startup_timeout=90):
        settings = Settings(data_dir=Path(tmp) / "data")
        settings.training.parallel_trials = 2
        write_feature_window(settings, users=USERS_PER_DAY, anomaly_share=0.02)
        train_flow(end=END, settings=settings, trials=1)  # warm up imports and the tracking store
        started = time.perf_counter()
        result = train_flow(end=END, settings=settings, trials=TRIALS)
        elapsed = time.perf_counter() - started
    _report(f"train_flow: {TRIALS} trials on {7 * USERS_PER_DAY:,} user-days in {elapsed:.1f} s "
            f"(best {result.detector}, {result.objective_name}={result.objective:.3f}, {result.decision})")


if __name__ == "__main__":
    main()
