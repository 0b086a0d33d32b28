"""Benchmark: validate one day of 1M raw events (target: under 15 s on 2 cores).

Writes a synthetic day (about 0.5% of rows broken in assorted ways, so quarantine is exercised)
under a temp data root, then times ``validate_day`` end to end: read + schema checks, the users
suite, the raw-events suite through a GX Checkpoint with Data Docs, the split and both writes.
Run: ``python -m benchmarks.bench_validate [--rows N]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.layout import DataLayout
from tasks.settings import ValidationSettings

DAY = date(2026, 1, 8)
TARGET_SECONDS = 15.0
EVENT_TYPES = np.array(["login", "view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase",
                        "payment_failed", "review", "coupon_apply"])
PRICED = ["add_to_cart", "checkout", "purchase", "payment_failed"]


def synthetic_day(rows: int, users: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """(events, users) in the raw schema, vectorised so building 1M rows takes about a second."""
    rng = np.random.default_rng(seed)
    user_idx = rng.integers(0, users, rows)
    event_type = EVENT_TYPES[rng.integers(0, len(EVENT_TYPES), rows)]
    priced = np.isin(event_type, PRICED)
    start_us = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp() * 1_000_000)
    ts = np.sort(start_us + rng.integers(0, 86_400 * 1_000_000, rows))
    price = np.where(priced, rng.gamma(2.0, 20.0, rows).round(2), np.nan)
    quantity = np.where(priced, rng.integers(1, 4, rows), 0).astype(np.int32)
    ids = pc.binary_join_element_wise("e", pa.array(np.arange(rows).astype(str)), "")
    user_ids = pc.binary_join_element_wise("u", pa.array(user_idx.astype(str)), "")
    # Break ~0.5% of rows, several ways, so quarantine has work to do.
    broken = rng.random(rows) < 0.005
    kind = rng.integers(0, 3, rows)
    price = np.where(broken & (kind == 0) & priced, -1.0, price)
    event_type = np.where(broken & (kind == 1), "teleport", event_type)
    country = np.where(broken & (kind == 2), "germany", np.where(user_idx % 3 == 0, "FR", "DE"))
    events = pa.table({
        "event_id": ids.cast(pa.string()),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "user_id": user_ids.cast(pa.string()),
        "session_id": pa.array((user_idx * 10 + rng.integers(0, 3, rows)).astype(str)),
        "event_type": pa.array(event_type),
        "item_id": pa.array(np.char.add("i", rng.integers(0, 50_000, rows).astype(str))),
        "category": pa.array(np.char.add("c", rng.integers(0, 30, rows).astype(str))),
        "price": pa.array(price, mask=np.isnan(price)),
        "quantity": pa.array(quantity, pa.int32(), mask=~priced),
        "device_id": pa.array(np.char.add("d", user_idx.astype(str))),
        "ip": pa.array(np.char.add("ip", (user_idx % 5000).astype(str))),
        "country": pa.array(country),
    })
    user_table = pa.table({
        "user_id": pa.array(np.char.add("u", np.arange(users).astype(str))),
        "signup_ts": pa.array(np.full(users, start_us - 86_400 * 1_000_000 * 30), pa.timestamp("us", tz="UTC")),
        "birth_year": pa.array(rng.integers(1950, 2005, users), pa.int32()),
        "gender": pa.array(rng.choice(["f", "m"], users)),
        "country": pa.array(np.where(np.arange(users) % 3 == 0, "FR", "DE")),
        "segment": pa.array(rng.choice(["new", "regular", "vip"], users)),
    })
    return events, user_table


def run(rows: int, users: int) -> dict[str, float]:
    from tasks.validation.day import validate_day

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        layout = DataLayout(Path(tmp))
        events, user_table = synthetic_day(rows, users)
        layout.raw_events(DAY).mkdir(parents=True)
        pq.write_table(events, layout.raw_events(DAY) / "part-0.parquet")
        layout.users.parent.mkdir(parents=True)
        pq.write_table(user_table, layout.users)
        started = time.perf_counter()
        summary = validate_day(layout, DAY, ValidationSettings())
        seconds = time.perf_counter() - started
    if summary.stopped:
        raise SystemExit(f"benchmark day was stopped: {summary.reason}")
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "quarantined": summary.rows_quarantined, "validated": summary.rows_validated}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import great_expectations  # noqa: F401  (import time is not validation time)

    result = run(args.rows, args.users)
    report(result)
    return 0 if result["seconds"] < TARGET_SECONDS else 1


def report(result: dict[str, float]) -> None:
    """One line on stdout; the load average says how busy the machine was (figures vary with it)."""
    verdict = "PASS" if result["seconds"] < TARGET_SECONDS else "FAIL"
    load = os.getloadavg()[0]
    sys.stdout.write(
        f"validate one day: {result['rows']:,} events in {result['seconds']:.1f} s "
        f"({result['rows_per_second']:,.0f} rows/s; {result['validated']:,} validated, "
        f"{result['quarantined']:,} quarantined; load average {load:.1f} on {os.cpu_count()} cores) "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}\n")


if __name__ == "__main__":
    sys.exit(main())
