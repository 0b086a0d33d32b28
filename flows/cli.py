"""The ``shopguard`` command line: one entry point, lazy imports so ``--help`` stays fast.

Every command reads the settings once, checks what the file system can answer (data root, the
day's partition, a champion store) before anything heavy is imported, points MLflow and Prefect at
the data root, attaches to the data root's temporary Prefect API (started, if none runs, while
the flow's modules import), then calls one flow.
Failures end with a single line on stderr and a non-zero exit; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from flows.console import configure_logging

log = logging.getLogger("shopguard")

EXAMPLES = """\
examples:
  shopguard demo                                   # the whole life cycle on a synthetic world
  shopguard generate --start 2026-01-01 --days 14 --users 5000
  shopguard ingest --source orders.csv --mapping infra/ingest/orders.toml   # your own table
  shopguard validate --date 2026-01-08
  shopguard train --end 2026-01-07 --window-days 7 --trials 12
  shopguard daily --date 2026-01-08                # validate, features, score, monitor (+ retrain)
  shopguard backfill --prepare --start 2026-01-01 --end 2026-01-07   # validate + features only
  shopguard backfill --start 2026-01-08 --end 2026-01-14

settings come from SHOPGUARD_* environment variables (see README); the data root is
SHOPGUARD_DATA_DIR (default ./data).
"""


MAX_ERROR_CHARS = 300


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # one line, printable whatever bytes the argument held (undecodable ones arrive as surrogates)
        line = " ".join(message.split()).encode("ascii", "backslashreplace").decode("ascii")
        line += _did_you_mean(line)
        if len(line) > MAX_ERROR_CHARS:
            line = line[:MAX_ERROR_CHARS] + "..."
        self.exit(2, f"{self.prog}: error: {line} (see --help)\n")


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _did_you_mean(line: str) -> str:
    """For a mistyped command or choice (`shopguard valdate`), the closest valid one."""
    import difflib

    match = _INVALID_CHOICE.search(line)
    if not match:
        return ""
    choices = re.findall(r"'([^']*)'", match.group(2))
    close = difflib.get_close_matches(match.group(1), choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


# Strictly YYYY-MM-DD in ASCII digits: date.fromisoformat also takes 20260301 and 2026-W10-1, and
# a date ends up in partition paths (date=...), so nothing else gets through.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
SHOWN_CHARS = 40


def shown(text: str) -> str:
    """An argument as it appears in an error: quoted, escaped (non-UTF-8 bytes too), cut short."""
    quoted = ascii(text)
    return quoted if len(quoted) <= SHOWN_CHARS else f"{quoted[:SHOWN_CHARS]}... ({len(text)} characters)"


def iso_date(text: str) -> date:
    if ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {shown(text)}") from None


def positive_int(text: str) -> int:
    if not WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a whole number: {shown(text)}")
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--data-dir", type=Path, default=default, help="data root (overrides SHOPGUARD_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", default=False if default is None else default,
                        help="debug logging and full tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="shopguard",
        description="Detect anomalous user behaviour on an e-commerce platform and run the model\n"
        "life cycle (validate -> features -> train -> score -> monitor) as Prefect flows.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    # The same options after the subcommand (`shopguard validate --date D --data-dir X`); SUPPRESS
    # keeps a subcommand that does not repeat them from resetting what came before it.
    global_after = OneLineParser(add_help=False)
    add_global_options(global_after, default=argparse.SUPPRESS)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[global_after])

    p = cmd("generate", "Write a synthetic e-commerce world (users, daily events, labels) under data/raw.")
    p.add_argument("--start", type=iso_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=positive_int, default=14, help="number of days (default 14)")
    p.add_argument("--users", type=positive_int, default=5000, help="number of users (default 5000)")
    p.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same world")
    p.add_argument("--promotion-day", type=iso_date, help="a day of promotion-driven behaviour shift (drift)")
    p.add_argument("--anomaly-share", type=float, default=0.02, help="share of users behaving anomalously (default 0.02)")
    p.add_argument("--events-per-day", type=positive_int,
                   help="scale volume to about this many events a day (streamed; e.g. 10000000)")
    p.add_argument("--difficulty", choices=["easy", "realistic", "hard"], default="realistic",
                   help="easy: blatant bad actors only; realistic (default): most camouflaged, among benign "
                        "look-alikes; hard: nearly all camouflaged")

    p = cmd("ingest", "Map your own event or order table (CSV/Parquet) into raw/ through a TOML mapping file.")
    p.add_argument("--source", type=Path, required=True, help="the table: .csv or .parquet")
    p.add_argument("--mapping", type=Path, required=True, help="TOML mapping file (examples in infra/ingest/)")

    p = cmd("validate", "Validate one day's raw events with Great Expectations; quarantine bad rows.")
    p.add_argument("--date", type=iso_date, required=True, help="the day to validate")

    p = cmd("features", "Build one day's user-day behaviour features into Parquet.")
    p.add_argument("--date", type=iso_date, required=True, help="the day to build")
    p.add_argument("--window-days", type=positive_int, help="trailing history in days (default from settings)")

    p = cmd("train", "Sweep detectors on a window of days, log to MLflow, register and gate promotion.")
    p.add_argument("--end", type=iso_date, required=True, help="last day of the training window")
    p.add_argument("--window-days", type=positive_int, help="days in the window (default from settings)")
    p.add_argument("--trials", type=positive_int, help="Optuna trials (default from settings)")
    p.add_argument("--trigger", choices=["manual", "schedule", "drift"], default="manual", help="why this retrain runs")

    p = cmd("promote", "Make a registered model version the champion (manual override or rollback).")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", type=positive_int, help="model version to serve")
    which.add_argument("--rollback", action="store_true", help="serve the previous-champion version again")
    p.add_argument("--reason", default="manual promotion", help="why; stored on the version")

    p = cmd("score", "Score one day's features with the champion; write scores and alerts.")
    p.add_argument("--date", type=iso_date, required=True, help="the day to score")

    p = cmd("monitor", "Write the day's Evidently drift report and update the on-call page.")
    p.add_argument("--date", type=iso_date, required=True, help="the day to monitor")

    p = cmd("daily", "Run the whole day: validate, features, score, monitor, and retrain on drift.")
    p.add_argument("--date", type=iso_date, required=True, help="the day to process")

    p = cmd("backfill", "Run the daily flow over a range of days in order.")
    p.add_argument("--start", type=iso_date, required=True, help="first day")
    p.add_argument("--end", type=iso_date, required=True, help="last day (inclusive)")
    p.add_argument("--force", action="store_true", help="rerun days that already completed")
    p.add_argument("--prepare", action="store_true",
                   help="only validate and build features (the training days of a new data root, before any champion)")

    p = cmd("serve", "Register the scheduled deployments (daily scoring, retrain) and run them.")
    p.add_argument("--run-once", action="store_true",
                   help="only register (create or update) the deployments on the Prefect server and exit; "
                        "runs nothing (a worker or `shopguard serve` without it runs them)")

    p = cmd("benchmark", "Compare detectors on a labelled table (.npz, .csv or .parquet).")
    p.add_argument("--data", type=Path, required=True, help="labelled table: .npz (X, y), .csv or .parquet")
    p.add_argument("--label-col", default="y", help="label column for .csv/.parquet (default y)")
    p.add_argument("--detectors", help="comma-separated detector names (default: all)")
    p.add_argument("--out", type=Path, help="write results as JSON here")

    p = cmd("demo", "Generate 14 days, train on the first 7, run each later day, print a summary "
                    "(about 3 minutes on 2 cores).")
    p.add_argument("--start", type=iso_date, default=date(2026, 1, 1), help="first day of the world")
    p.add_argument("--users", type=positive_int, default=3000, help="number of users (default 3000)")
    p.add_argument("--seed", type=int, default=7, help="random seed")
    p.add_argument("--trials", type=positive_int, default=6, help="Optuna trials for the first training")
    p.add_argument("--fresh", action="store_true",
                   help="delete an earlier demo's data root first (only a folder an earlier demo made)")
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from tasks.settings import Settings

    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    settings = Settings(**overrides)
    if args.verbose:
        settings.log_level = "DEBUG"
    return settings


def dispatch(args: argparse.Namespace, settings: Any) -> int:
    """Call the flow behind ``args.command``. Imports are lazy on purpose (see module doc)."""
    c = args.command
    if c == "generate":
        from flows.generate import generate_flow, write_summary
        from tasks.synthetic import WorldConfig

        world = dict(start=args.start, days=args.days, users=args.users, seed=args.seed,
                     promotion_day=args.promotion_day, anomaly_share=args.anomaly_share,
                     events_per_day=args.events_per_day, difficulty=args.difficulty)
        WorldConfig.checked(**world)  # fail on one line before any flow starts
        write_summary(generate_flow(settings=settings, **world))
    elif c == "ingest":
        from flows.ingest import ingest_flow

        _say(ingest_flow(source=args.source, mapping=args.mapping, settings=settings).one_line())
    elif c == "validate":
        from flows.validate import validate_flow

        validate_flow(day=args.date, settings=settings)
    elif c == "features":
        from flows.features import features_flow

        features_flow(day=args.date, settings=settings, window_days=args.window_days)
    elif c == "train":
        from flows.train import train_flow

        result = train_flow(end=args.end, settings=settings, window_days=args.window_days, trials=args.trials,
                            trigger=args.trigger)
        _say(f"trained {result.detector} on {result.data_window}: {result.objective_name}={result.objective:.3f}; "
             f"version {result.version} {result.decision}: {result.reason}")
    elif c == "promote":
        from flows.train import promote_version

        champion, previous = promote_version(version=args.version, settings=settings, reason=args.reason)
        _say(f"version {champion} is now champion" + (f" (was version {previous})" if previous else ""))
    elif c == "score":
        from flows.daily import score_flow

        score_flow(day=args.date, settings=settings)
    elif c == "monitor":
        from flows.daily import monitor_flow

        monitor_flow(day=args.date, settings=settings)
    elif c == "daily":
        from flows.daily import daily_flow

        daily_flow(day=args.date, settings=settings)
    elif c == "backfill":
        from flows.backfill import backfill_flow, prepare_flow

        range_flow = prepare_flow if args.prepare else backfill_flow
        range_flow(start=args.start, end=args.end, settings=settings, force=args.force)
    elif c == "serve":
        from flows.serve import serve

        serve(settings=settings, run_once=args.run_once)
    elif c == "benchmark":
        from flows.benchmark import run_benchmark

        run_benchmark(data=args.data, label_col=args.label_col,
                      detectors=args.detectors.split(",") if args.detectors else None, out=args.out)
    elif c == "demo":
        from flows.demo import run_demo

        run_demo(settings=settings, start=args.start, users=args.users, seed=args.seed, trials=args.trials)
    return 0


def _say(line: str) -> None:
    """The command's closing line for the person at the terminal (logs go to stderr)."""
    sys.stdout.write(line + "\n")


def _prefect_gone(exc: BaseException, api_url: str | None) -> bool:
    """A transport error (refused, reset, timed out) talking to the configured Prefect server."""
    if not api_url or "httpx" not in sys.modules:
        return False
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _disk_full(data_dir: Path) -> bool:
    from infra.ephemeral_prefect import SPACE_NEEDED_BYTES

    try:
        return shutil.disk_usage(data_dir).free < SPACE_NEEDED_BYTES
    except OSError:
        return False


class _UsageError(Exception):
    """A usage mistake only found after parsing (e.g. --end before --start): exit 2 like argparse."""


# Commands that run Prefect flows -> the module dispatch calls (the rest are plain functions or
# need a real server). Imported while a new temporary Prefect API boots, so the two overlap.
FLOW_MODULES = {"generate": "flows.generate", "validate": "flows.validate", "features": "flows.features",
                "train": "flows.train", "score": "flows.daily", "monitor": "flows.daily", "daily": "flows.daily",
                "backfill": "flows.backfill", "demo": "flows.demo"}


# The heavy libraries a command's flow imports lazily, imported while a new temporary Prefect API
# boots on the other core instead of after it is ready (GX alone is about a third of a small
# validate's CPU, mostly scipy and SQLAlchemy under it). Not for features: its feature-table
# check needs GX only to word a failing table (branch perf's vectorised verdict).
WARM_IMPORTS = {"validate": ("great_expectations",),
                "monitor": ("evidently",), "daily": ("great_expectations", "evidently"),
                "backfill": ("great_expectations", "evidently")}


def _warm_imports(args: argparse.Namespace) -> tuple[str, ...]:
    if args.command == "backfill" and args.prepare:
        return ("great_expectations",)  # validate + features only: no drift report
    return WARM_IMPORTS.get(args.command, ())


def _day_of(args: argparse.Namespace) -> date | None:
    return getattr(args, "date", None)


def _preflight(args: argparse.Namespace, settings: Any) -> None:
    """File-system checks (milliseconds, nothing heavy imported); raises before Prefect starts."""
    from flows.preflight import check_files, prepare_demo_root

    if args.command == "backfill" and args.end < args.start:
        raise _UsageError(f"--end {args.end} is before --start {args.start}")
    if args.command == "demo":
        prepare_demo_root(settings.data_dir, fresh=args.fresh)
    check_files(args.command, settings, _day_of(args))


def _run(args: argparse.Namespace, settings: Any) -> int:
    """Attach to the data root's temporary Prefect API early (a new one boots while the flows
    import), check the champion, run."""
    server = None
    started = time.perf_counter()
    if args.command in FLOW_MODULES and not settings.prefect_api_url:
        from infra.ephemeral_prefect import SharedPrefectServer

        server = SharedPrefectServer(Path(os.environ["PREFECT_HOME"]),  # set by apply_environment
                                     idle_s=settings.prefect_idle_seconds)
        server.attach()
        os.environ["PREFECT_API_URL"] = server.api_url  # before prefect is first imported
    from flows.preflight import NEEDS_CHAMPION, check_champion

    if args.command in NEEDS_CHAMPION:
        check_champion(settings)
    if args.command in FLOW_MODULES:
        importlib.import_module(FLOW_MODULES[args.command])
    if server is not None:
        for module in _warm_imports(args):
            importlib.import_module(module)
        imported = time.perf_counter()
        server.wait_ready()
        log.debug("start-up: imports %.1f s, then %.1f s waiting for the %s Prefect API (pid %s)",
                  imported - started, time.perf_counter() - imported,
                  "new" if server.started_here else "running", server.pid)
    return dispatch(args, settings)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except Exception as exc:  # pydantic ValidationError: name the offending setting on one line
        errors = getattr(exc, "errors", None)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()) if errors else str(exc)
        print(f"shopguard: error: invalid settings: {detail}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, verbose=args.verbose)
    try:
        _preflight(args, settings)  # before apply_environment, which creates the data root
        settings.apply_environment()
        return _run(args, settings)
    except _UsageError as exc:
        parser.exit(2, f"shopguard: error: {exc} (see --help)\n")
    except KeyboardInterrupt:
        print("shopguard: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from tasks.errors import DataRootError, ShopguardError, first_line

        if args.verbose:
            log.exception("command failed")
        reason = first_line(exc)
        if not isinstance(exc, ShopguardError):
            reason = f"{type(exc).__name__}: {reason}"
            if _prefect_gone(exc, settings.prefect_api_url):
                reason = f"Prefect server {settings.prefect_api_url} stopped answering ({reason}); rerun when it is back"
            elif _disk_full(settings.data_dir):  # e.g. Prefect's database filled it: its 500s hide the cause
                reason = f"disk full while writing {settings.data_dir} ({reason}); free space and rerun"
        print(f"shopguard: error: {reason}", file=sys.stderr)
        return 2 if isinstance(exc, DataRootError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
