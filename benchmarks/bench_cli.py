"""Benchmark: the fixed cost of one `shopguard` command on a small day, against Prefect's own start.

Generates a small world (about 5k events a day) under a temp data root, then times, each in a
fresh interpreter as a person would run them:
  - `shopguard validate --date D` and `shopguard features --date D` (the CLI: a private Prefect API
    started before the imports, so the two overlap);
  - the same flows called the previous way, where Prefect starts its temporary server itself at
    the first flow call (`python -c "... validate_flow(...)"`, no PREFECT_API_URL);
  - a day without data (answered before Prefect or MLflow are imported).
The median of ``--repeats`` runs is reported; the load average says how busy the machine was.
Run: ``python -m benchmarks.bench_cli [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAY = "2026-01-01"
TARGET_SECONDS = 12.0  # one command on a small day, imports and Prefect included (was 15-35 s)
MISSING_DAY_TARGET_SECONDS = 3.0

# The previous CLI path: settings, then the flow; Prefect starts its own temporary server.
PREFECT_OWN_SERVER = """
import sys
from datetime import date
from tasks.settings import Settings
settings = Settings(data_dir=sys.argv[2])
settings.apply_environment()
day = date.fromisoformat(sys.argv[3])
if sys.argv[1] == "validate":
    from flows.validate import validate_flow
    validate_flow(day=day, settings=settings)
else:
    from flows.features import features_flow
    features_flow(day=day, settings=settings)
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_", "MLFLOW_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      os.environ.get("PYTHONPATH")]))
    return env


def timed(command: list[str], expect_ok: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it started, servers included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if (result.returncode == 0) != expect_ok:
        raise SystemExit(f"{' '.join(command[:6])} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def cli(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "--data-dir", str(root), *args]


def median_of(repeats: int, command: list[str], expect_ok: bool = True) -> tuple[float, float]:
    runs = [timed(command, expect_ok) for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def run(repeats: int, users: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp) / "data"
        timed(cli(root, "generate", "--start", DAY, "--days", "1", "--users", str(users)))
        results = {}
        for stage in ("validate", "features"):  # features needs the validated day from validate
            results[f"cli_{stage}"] = median_of(repeats, cli(root, stage, "--date", DAY))
            results[f"prefect_own_{stage}"] = median_of(
                repeats, [sys.executable, "-c", PREFECT_OWN_SERVER, stage, str(root), DAY])
        results["missing_day"] = median_of(repeats, cli(root, "validate", "--date", "2031-01-01"), expect_ok=False)
    return results


def report(r: dict[str, tuple[float, float]]) -> bool:
    load = os.getloadavg()[0]
    worst = max(r["cli_validate"][0], r["cli_features"][0])
    ok = worst < TARGET_SECONDS and r["missing_day"][0] < MISSING_DAY_TARGET_SECONDS

    def row(stage: str) -> str:
        (cli_wall, cli_cpu), (own_wall, own_cpu) = r[f"cli_{stage}"], r[f"prefect_own_{stage}"]
        return (f"  {stage:<9} CLI {cli_wall:5.1f} s ({cli_cpu:4.1f} s CPU)   "
                f"Prefect starting its own server {own_wall:5.1f} s ({own_cpu:4.1f} s CPU)")

    lines = [
        f"one command on a small day, wall time (CPU time, servers included); median; "
        f"load average {load:.1f} on {os.cpu_count()} cores:",
        row("validate"), row("features"),
        f"  a day without data: {r['missing_day'][0]:.2f} s (target < {MISSING_DAY_TARGET_SECONDS:.0f} s)",
        f"target: one command < {TARGET_SECONDS:.0f} s: {'PASS' if ok else 'FAIL'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, default=500, help="world size (500 users: about 5k events a day)")
    args = parser.parse_args(argv)
    return 0 if report(run(args.repeats, args.users)) else 1


if __name__ == "__main__":
    sys.exit(main())
