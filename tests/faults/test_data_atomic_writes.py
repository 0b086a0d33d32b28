"""Fault tests of the atomic partition writer: concurrent writers, readers during swaps, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tasks.parquet_io import (
    read_partition,
    remove_stale_stages,
    write_partition_atomic,
    write_text_atomic,
)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2_000

WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    from pathlib import Path
    from tasks.parquet_io import write_partition_atomic
    target, writer, writes = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for i in range(writes):
        tag = writer * 100_000 + i
        write_partition_atomic(pd.DataFrame({"tag": [tag] * ROWS, "row": range(ROWS)}), target)
""").replace("ROWS", str(ROWS))

READER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tasks.parquet_io import read_partition
    target, seconds = Path(sys.argv[1]), float(sys.argv[2])
    end, reads = time.time() + seconds, 0
    while time.time() < end:
        frame = read_partition(target)
        assert len(frame) == ROWS and frame["tag"].nunique() == 1, "a mixed or partial partition was read"
        reads += 1
    print(reads)
""").replace("ROWS", str(ROWS))


def _python(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_writers_of_one_partition_never_fail_or_mix(tmp_path):
    target = tmp_path / "features" / "date=2026-03-01"
    write_partition_atomic(pd.DataFrame({"tag": [-1] * ROWS, "row": range(ROWS)}), target)
    writers = [_python(WRITER, str(target), str(w), "120") for w in range(4)]
    reader = _python(READER, str(target), "6")
    for proc in [*writers, reader]:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.strip().splitlines()[-1:]
    assert int(out) > 0  # the reader really read while the writers swapped
    files = [p.name for p in target.iterdir()]
    assert files == ["part-0.parquet"]
    final = read_partition(target)
    assert len(final) == ROWS and final["tag"].nunique() == 1
    assert final["tag"].iloc[0] % 100_000 == 119  # the last write of some writer won
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no stage left behind


def test_a_killed_writer_leaves_the_old_partition_and_its_stage_is_cleaned(tmp_path):
    target = tmp_path / "scores" / "date=2026-03-01"
    write_partition_atomic(pd.DataFrame({"tag": [7] * ROWS, "row": range(ROWS)}), target)
    stuck = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from tasks.parquet_io import staged_directory
        with staged_directory(Path(sys.argv[1])) as tmp:
            (tmp / "part-0.parquet").write_bytes(b"PAR1 half a file")
            print("staged", flush=True)
            time.sleep(60)
    """)
    proc = _python(stuck, str(target))
    assert proc.stdout.readline().strip() == "staged"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    stages = [p for p in target.parent.iterdir() if p.name.startswith(".")]
    assert len(stages) == 1  # the dead writer's half-written stage
    assert pq.read_table(target / "part-0.parquet").num_rows == ROWS  # old partition intact

    # A live writer's stage is kept (unless it is older than the bound); a dead one's is removed.
    live = target.parent / f".tmp-{target.name}-{os.getpid()}-0123abcd"
    live.mkdir()
    assert remove_stale_stages(target) == stages
    assert live.exists()
    old = time.time() - 7 * 3600
    os.utime(live, (old, old))
    write_partition_atomic(pd.DataFrame({"tag": [8] * ROWS, "row": range(ROWS)}), target)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert read_partition(target)["tag"].unique().tolist() == [8]


def test_a_dead_writers_temp_text_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "state" / "volume" / "date=2026-03-01.json"
    proc = _python("import time; time.sleep(0)")
    proc.communicate(timeout=60)  # a pid that has certainly exited
    target.parent.mkdir(parents=True)
    dead = target.parent / f".tmp-{target.name}-{proc.pid}-0123abcd"
    dead.write_text('{"rows": 1', encoding="utf-8")  # its half-written temp file
    write_text_atomic(target, '{"rows": 2}')
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert target.read_text(encoding="utf-8") == '{"rows": 2}'
