"""Benchmark: build one day's features from a 10M-event day vs a hand-written DuckDB query.

    python -m benchmarks.bench_features                 # 10M events over ~300k users
    python -m benchmarks.bench_features --events 500000 # quick run
    python -m benchmarks.bench_features --cli           # also the `shopguard features` command

Both sides read the same validated Parquet day and produce a per-user table in pandas; each runs
in its own subprocess so its peak RSS (VmHWM) is its own. The build is cold: the day's
summary cache is removed first, so it pays for everything a first build pays for.

With ``--cli`` the real command runs too (`shopguard features --date D`: build, the GX feature
suite, the write and the status record, in a fresh interpreter with its Prefect API). Its fixed
start-up (imports, Prefect) is the same command on a tiny day in the same data root, and is
subtracted: the ratio compares the command's work on the day with the DuckDB reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.layout import DataLayout

DAY = date(2026, 3, 2)
SMALL_DAY = DAY + timedelta(days=60)  # outside DAY's window, and DAY outside its window
CLI_TARGET_RATIO = 1.5
EVENTS_PER_USER = 33  # 10M events over ~300k users
EVENT_TYPES = np.array(["login", "view", "search", "add_to_cart", "remove_from_cart", "checkout",
                        "purchase", "payment_failed", "review", "coupon_apply"])
EVENT_TYPE_P = np.array([0.04, 0.55, 0.15, 0.09, 0.03, 0.04, 0.035, 0.005, 0.02, 0.04])
PRICED = {"add_to_cart", "remove_from_cart", "checkout", "purchase", "payment_failed"}
COUNTRIES = np.array(["DE", "FR", "GB", "US", "PL", "ES", "IT", "NL", "SE", "BR"])


def _strings(prefix: str, ids: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(ids).cast(pa.string()), "")


def _lookup(values: np.ndarray, idx: np.ndarray) -> pa.Array:
    """values[idx] as a plain string array, built without Python objects per row."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values)).cast(pa.string())


def make_day(layout: DataLayout, n_events: int, seed: int = 0, day: date = DAY, write_users: bool = True) -> int:
    """Write a synthetic validated day and users table; returns the number of users."""
    rng = np.random.default_rng(seed)
    n_users = max(n_events // EVENTS_PER_USER, 10)
    # A skewed activity distribution: a few very busy users, a long tail of light ones.
    weights = rng.pareto(1.5, n_users) + 0.2
    user = rng.choice(n_users, size=n_events, p=weights / weights.sum())
    start_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1e6)
    ts = start_us + rng.integers(0, 86_400_000_000, n_events)
    etype = rng.choice(len(EVENT_TYPES), size=n_events, p=EVENT_TYPE_P)
    priced = np.isin(EVENT_TYPES[etype], list(PRICED))
    has_item = ~np.isin(EVENT_TYPES[etype], ["login", "search", "coupon_apply"])
    item = rng.integers(0, 50_000, n_events)
    second_device = rng.random(n_events) < 0.1
    user_country = rng.integers(0, len(COUNTRIES), n_users)
    country = np.where(rng.random(n_events) < 0.02, rng.integers(0, len(COUNTRIES), n_events), user_country[user])

    events = pa.table({
        "event_id": _strings("e", np.arange(n_events)),
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "user_id": _strings("u", user),
        "session_id": _strings("s", user * 8 + (ts - start_us) // 10_800_000_000),  # a session per 3 h
        "event_type": _lookup(EVENT_TYPES, etype),
        "item_id": pc.if_else(pa.array(has_item), _strings("i", item), pa.scalar(None, pa.string())),
        "category": pc.if_else(pa.array(has_item), _strings("c", item % 300), pa.scalar(None, pa.string())),
        "price": pa.array(np.round(rng.gamma(2.0, 25.0, n_events), 2), mask=~priced),
        "quantity": pa.array(rng.integers(1, 4, n_events).astype(np.int32), mask=~priced),
        "device_id": _strings("d", user * 2 + second_device),
        "ip": _strings("ip", np.where(rng.random(n_events) < 0.05, rng.integers(0, n_users * 4, n_events), user * 3)),
        "country": _lookup(COUNTRIES, country),
    })
    out = layout.validated(day)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(events, out / "part-0.parquet", row_group_size=1_000_000, compression="zstd")
    if not write_users:
        return n_users

    signup = start_us - rng.integers(0, 3 * 365 * 86_400_000_000, n_users)
    users = pa.table({
        "user_id": _strings("u", np.arange(n_users)),
        "signup_ts": pa.array(signup, type=pa.timestamp("us", tz="UTC")),
        "birth_year": pa.array(rng.integers(1950, 2006, n_users), mask=rng.random(n_users) < 0.1),
        "gender": pa.array(rng.choice(["f", "m"], n_users)),
        "country": _lookup(COUNTRIES, user_country),
        "segment": pa.array(rng.choice(["new", "regular", "vip"], n_users)),
    })
    layout.users.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(users, layout.users)
    return n_users


REFERENCE_SQL = """
WITH timed AS (
    SELECT user_id, session_id, event_type, ts, price, quantity, item_id, category, device_id, ip, country,
           (epoch_us(ts) - epoch_us(lag(ts) OVER (PARTITION BY user_id ORDER BY ts, event_id))) / 1e6 AS gap_s,
           CASE WHEN event_type = 'view' THEN (epoch_us(lead(ts) OVER (PARTITION BY user_id, session_id
               ORDER BY ts, event_id)) - epoch_us(ts)) / 1e6 END AS dwell_s
    FROM read_parquet('{events}')
)
SELECT t.user_id, count(*) AS n_events,
       count(*) FILTER (WHERE event_type = 'view') AS n_views,
       count(*) FILTER (WHERE event_type = 'add_to_cart') AS n_cart_adds,
       count(*) FILTER (WHERE event_type = 'purchase') AS n_purchases,
       count(*) FILTER (WHERE event_type = 'payment_failed') AS n_payment_failures,
       count(*) FILTER (WHERE event_type = 'review') AS n_reviews,
       count(*) FILTER (WHERE event_type = 'coupon_apply') AS n_coupons,
       count(DISTINCT session_id) AS n_sessions,
       avg(gap_s) AS gap_mean_s, stddev_pop(gap_s) AS gap_std_s, min(gap_s) AS gap_min_s,
       avg((gap_s < 1)::DOUBLE) AS gap_share_under_1s, avg(dwell_s) AS dwell_per_view_s,
       sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS spend_sum,
       max(price * quantity) FILTER (WHERE event_type = 'purchase') AS spend_max,
       count(DISTINCT item_id) AS distinct_items, count(DISTINCT category) AS distinct_categories,
       count(DISTINCT device_id) AS distinct_devices, count(DISTINCT ip) AS distinct_ips,
       count(DISTINCT t.country) AS distinct_countries,
       avg((hour(ts) < 6)::DOUBLE) AS night_share,
       avg((t.country <> any_value(u.country))::DOUBLE) AS foreign_share_placeholder,
       (epoch_us(TIMESTAMPTZ '{day_end} 00:00:00+00') - epoch_us(any_value(u.signup_ts))) / 86400e6 AS account_age_days
FROM timed t LEFT JOIN read_parquet('{users}') u USING (user_id)
GROUP BY t.user_id
ORDER BY t.user_id
"""


def run_reference(layout: DataLayout) -> int:
    from tasks.features.engine import connect

    con = connect()
    sql = REFERENCE_SQL.format(events=layout.validated(DAY) / "part-0.parquet", users=layout.users,
                               day_end=(DAY + timedelta(days=1)).isoformat())
    sql = sql.replace("avg((t.country <> any_value(u.country))::DOUBLE) AS foreign_share_placeholder,",
                      "avg((t.country <> u.country)::DOUBLE) AS foreign_country_share,")
    return len(con.execute(sql).df())


def run_build(layout: DataLayout, window_days: int) -> int:
    from tasks.features.store import build_day_features

    return len(build_day_features(layout, DAY, window_days))


def child(role: str, root: Path, window_days: int) -> None:
    layout = DataLayout(root)
    started = time.perf_counter()
    rows = run_build(layout, window_days) if role == "build" else run_reference(layout)
    seconds = time.perf_counter() - started
    report(json.dumps({"role": role, "seconds": seconds, "rows": rows, "peak_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child would inherit the parent's high-water mark (here: the generated 10M-event arrays)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _run_child(role: str, root: Path, window_days: int) -> dict:
    shutil.rmtree(root / "features_state", ignore_errors=True)  # a cold build every time
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_features", "--child", role, "--root", str(root),
                          "--window-days", str(window_days)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_command(root: Path, command: str, day: date) -> float:
    """Wall seconds of `shopguard <command> --date day` in a fresh interpreter, outside any
    shopguard/Prefect/MLflow settings of the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_", "MLFLOW_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      os.environ.get("PYTHONPATH")]))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(root), command,
                             "--date", day.isoformat()], capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"shopguard {command} --date {day} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return seconds


def run_cli(root: Path, day: date) -> float:
    """Wall seconds of `shopguard features --date day` in a fresh interpreter (cold summaries)."""
    shutil.rmtree(root / "features_state", ignore_errors=True)
    return time_command(root, "features", day)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the day (default 10M)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side; the fastest counts")
    parser.add_argument("--window-days", type=int, default=28)
    parser.add_argument("--cli", action="store_true", help="also time the `shopguard features` command")
    parser.add_argument("--child", choices=["build", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.root, args.window_days)
        return 0

    with tempfile.TemporaryDirectory(prefix="shopguard-bench-features-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        n_users = make_day(DataLayout(root), args.events)
        report(f"made {args.events:,} events over {n_users:,} users in {time.perf_counter() - started:.1f} s")
        runs: dict[str, list[dict]] = {"reference": [], "build": []}
        cli_runs: dict[str, list[float]] = {"day": [], "small": []}
        if args.cli:
            make_day(DataLayout(root), 2_000, seed=1, day=SMALL_DAY, write_users=False)
            run_cli(root, SMALL_DAY)  # not counted: the first command in a data root creates Prefect's database
        for _ in range(args.repeats):
            for role in ("reference", "build"):
                runs[role].append(_run_child(role, root, args.window_days))
            if args.cli:
                cli_runs["small"].append(run_cli(root, SMALL_DAY))
                cli_runs["day"].append(run_cli(root, DAY))
        best = {role: min(results, key=lambda r: r["seconds"]) for role, results in runs.items()}
        ratio = best["build"]["seconds"] / best["reference"]["seconds"]
        report(f"duckdb reference query : {best['reference']['seconds']:6.2f} s  "
               f"peak {best['reference']['peak_mb']:6.0f} MB  rows {best['reference']['rows']:,}")
        report(f"shopguard feature build: {best['build']['seconds']:6.2f} s  "
               f"peak {max(r['peak_mb'] for r in runs['build']):6.0f} MB  rows {best['build']['rows']:,}")
        report(f"ratio build / reference: {ratio:.2f}x (target <= 1.5x; peak memory target < 2048 MB)")
        if not args.cli:
            return 0
        day_s, small_s = min(cli_runs["day"]), min(cli_runs["small"])
        cli_ratio = (day_s - small_s) / best["reference"]["seconds"]
        report(f"`shopguard features` on the day: {day_s:6.2f} s, on a 2k-event day (start-up) {small_s:6.2f} s, "
               f"net {day_s - small_s:6.2f} s")
        report(f"ratio command net / reference: {cli_ratio:.2f}x (target <= {CLI_TARGET_RATIO}x); "
               f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
