"""Benchmark: score one day of user-days with a registered champion, build its drift report and the
on-call page.  ``python -m benchmarks.bench_scoring [--users 50000]``

Uses a real MLflow sqlite store and pyfunc (an isolation forest behind the served-model contract)
in a temp folder; prints one line per stage with seconds and rows per second.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DAY = date(2026, 1, 8)


def synthetic_features(users: int, seed: int) -> pd.DataFrame:
    from tasks.features.catalogue import model_feature_names

    rng = np.random.default_rng(seed)
    names = model_feature_names()
    frame = pd.DataFrame(rng.gamma(4.0, 1.0, size=(users, len(names))), columns=names)
    frame.insert(0, "user_id", [f"u{i:07d}" for i in range(users)])
    frame.insert(1, "date", DAY)
    return frame


def register_champion(settings, reference: pd.DataFrame) -> None:
    from models.iforest import IsolationForestDetector
    from tasks.features.catalogue import model_feature_names
    from tasks.registry.packaging import log_and_register
    from tasks.tracking import configure_mlflow, mlflow_client

    experiment_id = configure_mlflow(settings)
    detector = IsolationForestDetector(n_estimators=100).fit(reference[model_feature_names()])
    client = mlflow_client(settings)
    run_id = client.create_run(experiment_id).info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        reference.to_parquet(Path(tmp) / "features.parquet", index=False)
        client.log_artifact(run_id, str(Path(tmp) / "features.parquet"), "reference")
    version = log_and_register(detector, run_id, reference, settings).version
    client.set_registered_model_alias(settings.registered_model_name, "champion", version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000, help="user-days to score (default 50000)")
    parser.add_argument("--reference", type=int, default=5_000, help="reference sample rows (default 5000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from tasks.layout import DataLayout
    from tasks.monitoring.drift import build_drift_report, column_drift
    from tasks.monitoring.oncall_page import write_oncall_page
    from tasks.run_status import update_day_status
    from tasks.scoring.champion import load_champion, load_reference_features
    from tasks.scoring.io import write_day_alerts, write_day_scores
    from tasks.scoring.scoring import rank_alerts, score_features
    from tasks.settings import Settings

    results: list[tuple[str, float, int]] = []

    def timed(label: str, rows: int, fn):
        start = time.perf_counter()
        value = fn()
        results.append((label, time.perf_counter() - start, rows))
        return value

    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        root = Path(tmp) / "data"
        settings = Settings(data_dir=root, mlflow_tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
        layout = DataLayout(settings.data_dir)
        register_champion(settings, synthetic_features(args.reference, seed=1))
        features = synthetic_features(args.users, seed=2)

        champion = timed("load champion (pyfunc)", 0, lambda: load_champion(settings))
        scores = timed("score (pyfunc predict + reasons)", args.users,
                       lambda: score_features(champion.model, features, champion.version))
        alerts = timed("rank alerts + guess kinds", args.users, lambda: rank_alerts(scores))
        timed("write scores + alerts (atomic)", args.users,
              lambda: (write_day_scores(layout, DAY, scores), write_day_alerts(layout, DAY, alerts)))
        reference = load_reference_features(settings, champion)
        reference["anomaly_score"] = champion.model.predict(reference)["anomaly_score"].to_numpy()
        current = features.assign(anomaly_score=scores["anomaly_score"].to_numpy())
        names = list(champion.model.metadata.get_input_schema().input_names())
        snapshot = timed("Evidently drift report (drifted columns + summary)", args.users,
                         lambda: build_drift_report(reference, current, names, settings.monitoring))
        timed("extract drift + save HTML/JSON", 0, lambda: (
            column_drift(snapshot.dict(), reference, current, names, settings.monitoring),
            snapshot.save_html(str(Path(tmp) / "r.html"))))
        for offset in range(365):
            update_day_status(layout, DAY - timedelta(days=offset), "scoring",
                              {"users_scored": args.users, "alerts": len(alerts), "alert_rate": 0.01, "model_version": "1"})
        timed("on-call page over 365 days", 365, lambda: write_oncall_page(layout, settings.tracking_uri))

    out = sys.stdout
    out.write(f"bench_scoring: {args.users:,} user-days x {len(names)} features, reference {args.reference:,} rows, "
              f"{len(alerts):,} alerts\n")
    for label, seconds, rows in results:
        rate = f"{rows / seconds:>12,.0f} rows/s" if rows and seconds > 0 else ""
        out.write(f"  {label:<52} {seconds:7.2f} s {rate}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
