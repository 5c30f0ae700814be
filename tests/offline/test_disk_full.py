"""ENOSPC for real: the outbox on a small tmpfs that a filler file runs out of space.

An enqueue on a full disk is refused with a clear key and rolls back; what was queued
before stays intact; space freed means service again. A terminal that starts on a full
disk still starts: the outbox reports why it is unavailable and opens once space returns.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.offline import OfflineServices
from offline_cache.db import StorageError
from offline_cache.outbox import Outbox, OutboxFull, OutboxPolicy


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_enqueue_on_a_full_disk_is_refused_cleanly_and_recovers(  # type: ignore[no-untyped-def]
        small_disk: Path, payload_key) -> None:
    ob = Outbox(small_disk / "outbox.db", payload_key, OutboxPolicy(min_free_bytes=0))
    try:
        before = [ob.enqueue("submission", {"n": i}) for i in range(20)]
        filler = fill(small_disk)
        with pytest.raises(OutboxFull) as exc:
            ob.enqueue("submission", {"n": 99, "pad": "x" * 300_000})
        assert exc.value.key == "outbox.disk_full"
        assert [i.key for i in ob.head("submission", 100)] == before  # nothing lost
        os.remove(filler)
        assert ob.enqueue("submission", {"n": 100})
        assert len(ob.head("submission", 100)) == 21
    finally:
        ob.close()


def test_a_terminal_starting_on_a_full_disk_starts_and_says_why(small_disk: Path) -> None:
    filler = fill(small_disk)
    cfg = Config().with_section("storage", data_dir=str(small_disk / "data"))
    cfg = cfg.with_section("offline", min_free_mb=0)
    services = OfflineServices(cfg, lambda: b"terminal secret")
    try:
        assert services.open() is None
        assert services.error in ("outbox.disk_full", "storage.unavailable")
        assert services.accepting() == services.error
        with pytest.raises(StorageError) as exc:
            services.record("transaction", {"flow": "x"})
        assert exc.value.key == services.error
        assert services.record("telemetry", {"cpu": 3}) is None  # dropped, not an error
        assert services.status()["error"] == services.error
        os.remove(filler)
        assert services.record("transaction", {"flow": "x"})  # opens once space is back
        assert services.status()["outbox"]["items"] == 1
    finally:
        services.close()
