"""The command line: fast help, one-line errors, non-zero exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from tasks.layout import DataLayout


def run_cli(*args: str, data_dir=None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_API_URL", "MLFLOW_"))}
    if data_dir is not None:
        env["SHOPGUARD_DATA_DIR"] = str(data_dir)
    env.pop("PREFECT_HOME", None)  # the CLI puts Prefect's home inside the data root
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_help_lists_every_command_and_is_fast():
    started = time.perf_counter()
    result = run_cli("--help")
    elapsed = time.perf_counter() - started
    assert result.returncode == 0
    for command in ["generate", "validate", "features", "train", "promote", "score", "monitor", "daily",
                    "backfill", "serve", "benchmark", "demo"]:
        assert command in result.stdout
    # --help must not import the heavy stack (prefect, mlflow, torch ... take ~5 s together)
    assert elapsed < 4, f"--help took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "--date", "2026-02-30"], "not an ISO date"),
        (["validate"], "--date"),
        (["generate", "--start", "2026-01-01", "--days", "0"], "must be at least 1"),
        (["generate", "--start", "2026-01-01", "--users", "many"], "not a whole number"),
        (["backfill", "--start", "2026-01-05", "--end", "2026-01-01"], "is before --start"),
        (["frobnicate"], "invalid choice"),
        (["valdate", "--date", "2026-01-01"], "did you mean 'validate'?"),
        (["generate", "--start", "2026-01-01", "--difficulty", "hrad"], "did you mean 'hard'?"),
        # hostile dates: only YYYY-MM-DD gets through (a date becomes part of a partition path)
        (["validate", "--date", "20260301"], "not an ISO date"),
        (["validate", "--date", "2026-W10-1"], "not an ISO date"),
        (["validate", "--date", "../../etc"], "not an ISO date"),
        (["validate", "--date", "2026-01-01; rm -rf /"], "not an ISO date"),
        (["daily", "--date", "$(touch /tmp/x)"], "not an ISO date"),
        (["validate", "--date", "2026-01-01\n"], "not an ISO date"),
        (["validate", "--date", "\u0662\u0660\u0662\u0666-01-01"], "not an ISO date"),  # Arabic-Indic digits
        (["validate", "--date", "9" * 100_000], "(100000 characters)"),
        (["generate", "--start", "2026-01-01", "--users", "1" * 5000], "not a whole number"),
        (["frobnicate" * 10_000], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, args, expected):
    result = run_cli(*args, data_dir=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_invalid_setting_is_named(tmp_path):
    env_args = ["validate", "--date", "2026-01-01"]
    env = {**os.environ, "SHOPGUARD_TRAINING__TRIALS": "lots", "SHOPGUARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "flows.cli", *env_args], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "training.trials" in result.stderr and len(result.stderr.strip().splitlines()) == 1




def test_non_utf8_argument_is_one_escaped_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flows.cli", "validate", "--date", b"2026-01-01\xff"],
                            capture_output=True, env={**os.environ, "SHOPGUARD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.decode("ascii").strip().splitlines()  # ASCII: nothing undecodable echoed back
    assert len(lines) == 1 and "not an ISO date" in lines[0] and "\\udcff" in lines[0]


def test_missing_data_root_is_refused_and_not_created(tmp_path):
    missing = tmp_path / "nonexistent"
    for args in (["--data-dir", str(missing), "validate", "--date", "2026-01-01"],
                 ["validate", "--date", "2026-01-01", "--data-dir", str(missing)]):  # global option after the command
        result = run_cli(*args, data_dir=tmp_path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("shopguard: error: data root") and str(missing) in lines[0]
        assert not missing.exists()


# Run main() in a fresh interpreter and report whether Prefect or MLflow were ever imported.
_PROBE = """
import sys
from flows.cli import main
code = main(sys.argv[1:])
sys.stderr.write("imported: " + ",".join(m for m in ("prefect", "mlflow") if m in sys.modules) + "\\n")
sys.exit(code)
"""


def _probe(*args: str, data_dir) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUARD_", "PREFECT_", "MLFLOW_"))}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _PROBE, "--data-dir", str(data_dir), *args], capture_output=True,
                            text=True, env=env, timeout=120)
    return result, time.perf_counter() - started


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("validate", "no raw events for 2031-01-01"),
        ("features", "no validated events for 2031-01-01"),
        ("score", "no features for 2031-01-01"),
        ("monitor", "no features for 2031-01-01"),
        ("daily", "no raw events for 2031-01-01"),
    ],
)
def test_missing_day_fails_in_one_line_before_prefect_starts(tmp_path, command, expected):
    result, elapsed = _probe(command, "--date", "2031-01-01", data_dir=tmp_path)
    assert result.returncode == 1, result.stderr
    error, probe = result.stderr.strip().splitlines()
    assert error.startswith("shopguard: error: ") and expected in error
    assert probe.strip() == "imported:", "Prefect or MLflow was imported before the missing day was noticed"
    assert not (tmp_path / "prefect").exists()  # no Prefect database left behind either
    assert elapsed < 10, f"took {elapsed:.1f}s"  # ~0.3 s idle; generous for a loaded 2-core box


def test_missing_champion_fails_in_one_line_before_prefect_starts(tmp_path):
    features = tmp_path / "features" / "date=2031-01-01"
    features.mkdir(parents=True)
    (features / "part-0.parquet").write_bytes(b"")  # the preflight only looks for the partition
    result, _ = _probe("score", "--date", "2031-01-01", data_dir=tmp_path)
    assert result.returncode == 1, result.stderr
    error, probe = result.stderr.strip().splitlines()
    assert error.startswith("shopguard: error: no champion model") and probe.strip() == "imported:"


def test_verbose_adds_the_traceback(tmp_path):
    result = run_cli("validate", "--date", "2031-01-01", "-v", data_dir=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("shopguard: error: no raw events")


def test_demo_refuses_an_earlier_run_without_fresh_and_foreign_folders_always(tmp_path):
    earlier = tmp_path / "demo-root"
    (earlier / "reports").mkdir(parents=True)
    (earlier / ".shopguard-demo").write_text("earlier demo")
    (earlier / "reports" / "index.html").write_text("retrained / promoted (an earlier run)")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not the demo's")
    for root, expected in ((earlier, "add --fresh"), (foreign, "was not made by `shopguard demo`")):
        result = run_cli("--data-dir", str(root), "demo", "--fresh" if root == foreign else "--users=1")
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr
    assert (earlier / "reports" / "index.html").exists() and (foreign / "keep.txt").read_text() == "not the demo's"


def test_fresh_removes_only_the_earlier_demo_and_marks_the_new_root(tmp_path):
    from flows.preflight import DEMO_MARKER, prepare_demo_root

    root = tmp_path / "data"
    prepare_demo_root(root, fresh=False)  # a new root: made and marked
    (root / "reports").mkdir()
    (root / "reports" / "index.html").write_text("earlier outcome")
    prepare_demo_root(root, fresh=True)
    assert sorted(p.name for p in root.iterdir()) == [DEMO_MARKER]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # the renamed old root is gone too


@pytest.fixture(scope="module")
def small_day_root(tmp_path_factory):
    from test_validation_data import DAY, clean_events, write_events, write_users

    layout = DataLayout(tmp_path_factory.mktemp("cli") / "data")
    write_users(layout)
    write_events(layout, DAY, clean_events())
    return layout, DAY


@pytest.mark.slow
def test_flow_failure_is_one_line_without_prefect_tracebacks(small_day_root):
    layout, day = small_day_root
    later = day + timedelta(days=1)  # a validated partition that is not Parquet: fails inside the flow
    layout.validated(later).mkdir(parents=True)
    (layout.validated(later) / "part-0.parquet").write_bytes(b"not parquet")
    result = run_cli("features", "--date", later.isoformat(), data_dir=layout.root)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Finished in state" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [result.stderr.strip().splitlines()[-1]], result.stderr
    assert errors[0].startswith("shopguard: error: ") and "parquet" in errors[0].lower()


@pytest.mark.slow
def test_runs_are_named_by_stage_and_date_and_carry_shopguards_log_lines(small_day_root):
    layout, day = small_day_root
    result = run_cli("validate", "--date", day.isoformat(), data_dir=layout.root)
    assert result.returncode == 0, result.stderr
    assert "Finished in state" not in result.stderr and "temporary" not in result.stderr

    import asyncio

    from infra.ephemeral_prefect import SharedPrefectServer

    async def runs_and_logs(api_url: str) -> tuple[list[str], list[str]]:
        from prefect.client.orchestration import PrefectClient
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        async with PrefectClient(api_url) as client:
            runs = await client.read_flow_runs()
            validate = [r for r in runs if r.name == f"validate {day}"]
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[validate[0].id]))) \
                if validate else []
        return [r.name for r in runs], [f"{log.name}: {log.message}" for log in logs]

    server = SharedPrefectServer(layout.root / "prefect", idle_s=1)  # the one the command used, if still up
    server.attach()
    try:
        server.wait_ready()
        names, logs = asyncio.run(runs_and_logs(server.api_url))
    finally:
        server.release()
    assert f"validate {day}" in names
    assert any(line.startswith("tasks.validation.day: validation passed") for line in logs), logs
