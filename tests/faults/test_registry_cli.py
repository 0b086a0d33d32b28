"""`shopguard promote --rollback` as an on-call engineer runs it: one line whatever goes wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shopguard(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_rollback_with_nothing_to_roll_back_to_is_one_line(tmp_path):
    (tmp_path / "data").mkdir()  # an existing (empty) data root: the registry is what refuses
    done = shopguard(tmp_path / "data", "promote", "--rollback")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("shopguard: error: model shopguard-detector has no 'previous-champion' alias")
    both = shopguard(tmp_path / "data", "promote", "--rollback", "--version", "2")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
