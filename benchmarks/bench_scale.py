"""Benchmark: a day's features and scoring in-process vs sharded on a local Dask cluster.

    python -m benchmarks.bench_scale                          # 1M, 10M and 30M events
    python -m benchmarks.bench_scale --sizes 1000000,10000000 --shards 8

For each size one synthetic validated day (benchmarks.bench_features.make_day) is built and scored
twice, cold (the day's summary cache removed first): in-process (one DuckDB build, one predict)
and on a LocalCluster of 2 worker processes on 127.0.0.1 (1 thread each), through the same shard
functions the Prefect tasks wrap (tasks.features.flow_tasks / tasks.scoring.shards), without
Prefect's own overhead. The champion is a 100-tree isolation forest pyfunc in a temp MLflow store.
Peak memory is VmHWM: of the in-process child, of each Dask worker (a fresh cluster per size) and
of the driver. Both paths' tables are checked equal row for row.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_features import DAY, make_day, peak_rss_mb, report

WINDOW_DAYS = 28


def _settings(root: Path):
    from tasks.settings import Settings

    return Settings(data_dir=root, mlflow_tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")


def _champion(root: Path):
    from tasks.scoring.champion import champion_model_dir, load_champion

    settings = _settings(root)
    champion = load_champion(settings)
    return champion, champion_model_dir(settings, champion)


def _cold(root: Path) -> None:
    shutil.rmtree(root / "features_state", ignore_errors=True)


def in_process(root: Path) -> dict:
    """Child process: features then scores, the way the flows run them without a Dask address."""
    from tasks.features.store import build_day_features
    from tasks.layout import DataLayout
    from tasks.scoring.scoring import score_features

    layout = DataLayout(root)
    champion, _ = _champion(root)
    _cold(root)
    started = time.perf_counter()
    features = build_day_features(layout, DAY, WINDOW_DAYS)
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = score_features(champion.model, features, champion.version)
    scoring_s = time.perf_counter() - started
    features.to_parquet(root / "bench-in-process-features.parquet", index=False)
    scores.to_parquet(root / "bench-in-process-scores.parquet", index=False)
    return {"features_s": features_s, "scoring_s": scoring_s, "rows": len(features), "peak_mb": peak_rss_mb()}


def _worker_peak_mb() -> float:
    from benchmarks.bench_features import peak_rss_mb as peak

    return peak()


def on_dask(root: Path, n_shards: int, worker_memory: str) -> dict:
    """Features then scores as one task per user shard on a fresh 2-worker LocalCluster."""
    import pandas as pd
    from distributed import Client, LocalCluster

    from tasks.catalog import DataCatalog
    from tasks.features.flow_tasks import build_shard_task
    from tasks.features.store import merge_shard_features, prepare_day_inputs, write_day_globals
    from tasks.layout import DataLayout
    from tasks.scoring.shards import merge_shard_scores, score_shard_task

    layout = DataLayout(root)
    _cold(root)
    # The cluster first: loading a pyfunc prepends its code folder to sys.path, which spawned
    # workers would inherit (and then import the model's serving subset of ``tasks``).
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
                      memory_limit=worker_memory) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        champion, model_dir = _champion(root)
        started = time.perf_counter()
        inputs = prepare_day_inputs(layout, DAY, WINDOW_DAYS)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            global_files = write_day_globals(inputs, Path(tmp))
            driver_s = time.perf_counter() - started
            futures = client.map(build_shard_task.fn, [inputs] * n_shards, [global_files] * n_shards,
                                 range(n_shards), [n_shards] * n_shards, pure=False)
            features = merge_shard_features(client.gather(futures))
        features_s = time.perf_counter() - started
        DataCatalog(layout).save("features", DAY, features)  # the file the score shards read
        started = time.perf_counter()
        keys = DataCatalog(layout).load("features", DAY, columns=[])
        futures = client.map(score_shard_task.fn, [model_dir] * n_shards, [champion.version] * n_shards,
                             [layout.features(DAY) / "part-0.parquet"] * n_shards, range(n_shards),
                             [n_shards] * n_shards, pure=False)
        scores = merge_shard_scores(keys, client.gather(futures))
        scoring_s = time.perf_counter() - started
        workers = client.run(_worker_peak_mb)
    local_features = pd.read_parquet(root / "bench-in-process-features.parquet")
    local_features["date"] = pd.to_datetime(local_features["date"]).dt.date
    pd.testing.assert_frame_equal(features, local_features, check_exact=True)
    pd.testing.assert_frame_equal(scores, pd.read_parquet(root / "bench-in-process-scores.parquet"),
                                  check_exact=True)
    return {"features_s": features_s, "driver_s": driver_s, "scoring_s": scoring_s, "rows": len(features),
            "worker_peak_mb": sorted(workers.values()), "driver_peak_mb": peak_rss_mb()}


def _child(role: str, root: Path, shards: int, worker_memory: str) -> dict:
    args = [sys.executable, "-m", "benchmarks.bench_scale", "--child", role, "--root", str(root),
            "--shards", str(shards), "--worker-memory", worker_memory]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:  # one line naming the run and its error; the whole trace in a log beside it
        log = root.parent / f"{root.name}-{role}.log"
        log.write_text(out.stderr)
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"bench-scale: the {role} run failed (exit {out.returncode}): {last} (see {log})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _prepare(root: Path, n_events: int) -> int:
    """The day, and a champion fitted on a sample of its features (built once, not timed)."""
    from benchmarks.bench_scoring import register_champion
    from tasks.features.store import build_day_features
    from tasks.layout import DataLayout

    layout = DataLayout(root)
    n_users = make_day(layout, n_events)
    sample = build_day_features(layout, DAY, WINDOW_DAYS).sample(n=20_000, replace=True, random_state=0)
    register_champion(_settings(root), sample.reset_index(drop=True))
    return n_users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000,30000000", help="events per day, comma-separated")
    parser.add_argument("--shards", type=int, default=8, help="user shards on Dask (default 8)")
    parser.add_argument("--worker-memory", default="4GiB", help="memory limit per Dask worker (default 4GiB)")
    parser.add_argument("--child", choices=["in-process", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        result = in_process(args.root) if args.child == "in-process" else on_dask(args.root, args.shards,
                                                                                 args.worker_memory)
        report(json.dumps(result))
        return 0

    rows = []
    for n_events in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="shopguard-bench-scale-") as tmp:
            root = Path(tmp)
            started = time.perf_counter()
            n_users = _prepare(root, n_events)
            report(f"{n_events:,} events over {n_users:,} users ready in {time.perf_counter() - started:.0f} s")
            local = _child("in-process", root, args.shards, args.worker_memory)
            report(f"  in-process: {json.dumps(local)}")
            dask = _child("dask", root, args.shards, args.worker_memory)
        rows.append((n_events, local, dask))
        report(f"  in-process: features {local['features_s']:6.1f} s  scoring {local['scoring_s']:5.1f} s  "
               f"peak {local['peak_mb']:6.0f} MB  rows {local['rows']:,}")
        report(f"  dask x2   : features {dask['features_s']:6.1f} s (driver part {dask['driver_s']:.1f} s)  "
               f"scoring {dask['scoring_s']:5.1f} s  worker peaks {', '.join(f'{m:.0f}' for m in dask['worker_peak_mb'])}"
               f" MB  driver peak {dask['driver_peak_mb']:.0f} MB  (tables equal row for row)")
    report("")
    report("| events | users | in-process features s | Dask features s | ratio | in-process scoring s | "
           "Dask scoring s | ratio | in-process peak MB | Dask worker peak MB | driver peak MB |")
    report("|---|---|---|---|---|---|---|---|---|---|---|")
    for n_events, local, dask in rows:
        report(f"| {n_events / 1e6:g}M | {local['rows']:,} | {local['features_s']:.1f} | {dask['features_s']:.1f} | "
               f"{dask['features_s'] / local['features_s']:.2f} | {local['scoring_s']:.1f} | {dask['scoring_s']:.1f} | "
               f"{dask['scoring_s'] / local['scoring_s']:.2f} | {local['peak_mb']:.0f} | "
               f"{max(dask['worker_peak_mb']):.0f} | {dask['driver_peak_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
