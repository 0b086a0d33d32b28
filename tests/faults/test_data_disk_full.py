"""A full disk (a small tmpfs mounted as the data root): one line, nothing half-written, a rerun after
space is freed succeeds. Mounting needs root; if it is impossible the test fails, it never skips."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from test_validation_data import DAY, clean_events, tree_digest, write_events, write_users

from tasks.errors import ShopguardError
from tasks.layout import DataLayout
from tasks.settings import ValidationSettings
from tasks.validation.day import validate_day


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs (the disk-full test needs root): {done.stderr.strip()}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(directory, leave_bytes: int):
    """Fill the disk holding ``directory`` but ``leave_bytes``; returns the filler file."""
    filler = directory / "filler.bin"
    with open(filler, "wb", buffering=0) as out:
        chunk = b"\0" * (1 << 20)
        while chunk:
            try:
                out.write(chunk)
            except OSError:
                chunk = chunk[: len(chunk) // 2]
    os.truncate(filler, filler.stat().st_size - leave_bytes)
    return filler


def hidden_stages(root):
    return [p for p in root.rglob("*") if p.name.startswith((".tmp-", ".old-")) or p.name.endswith(".tmp")]


@pytest.mark.slow
def test_validation_on_a_full_disk_is_one_line_and_a_rerun_succeeds(small_disk):
    layout = DataLayout(small_disk / "data")
    write_users(layout)
    write_events(layout, DAY, clean_events(DAY))
    first = validate_day(layout, DAY, ValidationSettings())
    assert not first.stopped
    outputs_before = tree_digest(layout.validated(DAY)) | tree_digest(layout.quarantine(DAY))

    # The disk fills at different points: the lock, GX's project files, Data Docs, the Parquet split.
    for i, leave_bytes in enumerate([0, 8_192, 32_768, 65_536]):
        day = DAY + timedelta(days=i + 1)
        write_events(layout, day, clean_events(day, n=210))
        raw_before = tree_digest(layout.raw)
        filler = fill(small_disk, leave_bytes)
        with pytest.raises(ShopguardError) as info:
            validate_day(layout, day, ValidationSettings())
        message = str(info.value)
        assert "\n" not in message and message.startswith("disk full while writing"), message
        assert not layout.validated(day).exists() and not layout.quarantine(day).exists()
        assert hidden_stages(layout.root) == []
        assert tree_digest(layout.raw) == raw_before
        assert tree_digest(layout.validated(DAY)) | tree_digest(layout.quarantine(DAY)) == outputs_before

        filler.unlink()
        again = validate_day(layout, day, ValidationSettings())
        assert not again.stopped and again.rows_validated == 210
