"""The command line: fast help, one-line errors, non-zero exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest


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


@pytest.mark.slow
@pytest.mark.parametrize("command", [["validate"], ["features"], ["score"]])
def test_day_without_data_fails_with_one_line(tmp_path, command):
    result = run_cli(*command, "--date", "2031-01-01", data_dir=tmp_path)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("shopguard: error:")
    assert "2031-01-01" in last
