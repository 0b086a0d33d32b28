"""Benchmark: synthetic world generation speed and memory.

    python -m benchmarks.bench_generate              # 5k users x 14 days, then one 10M-event day
    python -m benchmarks.bench_generate --events 1000000   # a smaller streamed day
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from tasks.layout import DataLayout
from tasks.parquet_io import parquet_files
from tasks.synthetic import WorldConfig, generate_world


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed_world(root: Path, config: WorldConfig) -> tuple[float, int, int]:
    started = time.perf_counter()
    summary = generate_world(DataLayout(root), config)
    parts = sum(len(parquet_files(DataLayout(root).raw_events(d))) for d in config.day_list)
    return time.perf_counter() - started, summary.total_events, parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events for the single streamed day")
    parser.add_argument("--skip-world", action="store_true", help="only run the streamed day")
    parser.add_argument("--difficulty", choices=["easy", "realistic", "hard"], default="realistic",
                        help="world difficulty (default realistic, as `generate`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        if not args.skip_world:
            config = WorldConfig(start=date(2026, 1, 1), days=14, users=5000, seed=7, promotion_day=date(2026, 1, 10),
                                 difficulty=args.difficulty)
            seconds, events, parts = timed_world(Path(tmp) / "world", config)
            lines.append(f"{args.difficulty} world 5000 users x 14 days: {events:,} events in {seconds:.1f} s "
                         f"({events / seconds:,.0f} events/s)")
        config = WorldConfig(start=date(2026, 1, 1), days=1, users=5000, seed=7, events_per_day=args.events,
                             difficulty=args.difficulty)
        seconds, events, parts = timed_world(Path(tmp) / "day", config)
        lines.append(f"one day at events_per_day={args.events:,}: {events:,} events, {parts} part files in "
                     f"{seconds:.1f} s ({events / seconds:,.0f} events/s); peak RSS {peak_rss_mb():,.0f} MB")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
