"""A full disk in `shopguard generate` (a small tmpfs as the data root): one line naming the disk
full, quickly, never a Prefect start-up time-out; nothing half-written; a rerun after space is
freed writes the same world. Real CLI processes, a real tmpfs, Prefect's real temporary server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_data_disk_full import fill, hidden_stages, small_disk  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["generate", "--start", "2026-01-01", "--days", "2", "--users", "2000"]


def generate(data_dir: Path, prefect_home_in_root: bool = False) -> subprocess.CompletedProcess:
    # A busy CI machine may need minutes to boot (and first migrate) the temporary server.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    env.pop("PREFECT_API_URL", None)
    if prefect_home_in_root:  # the default: the server's database on the data root's (full) disk
        env.pop("PREFECT_HOME", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *ARGS], env=env,
                          capture_output=True, text=True, timeout=1200)


def world(data_dir: Path) -> dict[str, int]:
    """Rows per raw file; every file reads (nothing half-written)."""
    return {str(p.relative_to(data_dir)): pq.read_metadata(p).num_rows for p in sorted((data_dir / "raw").rglob("*.parquet"))}


def assert_one_disk_full_line(done: subprocess.CompletedProcess) -> None:
    lines = done.stderr.strip().splitlines()
    ours = [line for line in lines if "shopguard: error:" in line]
    assert done.returncode == 1 and len(ours) == 1, lines[-5:]
    assert "shopguard: error: disk full while writing" in ours[0] and "free space and rerun" in ours[0], ours
    assert "did not start within" not in done.stderr
    assert len(lines) < 10, lines[:10]  # Prefect's own complaints about its full database, at most a few


def test_generate_on_a_full_disk_is_one_line_and_a_rerun_writes_the_same_world(small_disk, tmp_path):  # noqa: F811
    clean = tmp_path / "clean"
    assert generate(clean).returncode == 0
    expected = world(clean)

    data_dir = small_disk / "data"
    # Nothing left and the server's database on that disk: it cannot even start (was a 90 s
    # start-up time-out). 64 KB left: the world's own files fill it mid-run.
    for leave_bytes, prefect_home_in_root in ((0, True), (64 << 10, False)):
        filler = fill(small_disk, leave_bytes)
        started = time.monotonic()
        done = generate(data_dir, prefect_home_in_root)
        assert_one_disk_full_line(done)
        if prefect_home_in_root:
            assert time.monotonic() - started < 120, "the full disk was found only after a time-out"
        world(data_dir)  # whatever was written reads
        assert hidden_stages(data_dir) == []
        filler.unlink()

    assert generate(data_dir).returncode == 0
    assert world(data_dir) == expected
