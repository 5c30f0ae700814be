"""Memory over thousands of sessions: a large transient buffer (a page bitmap, a PDF)
must give its memory back when freed, not leave the heap grown (glibc's dynamic mmap
threshold did that: the soak's resident size stepped up ~4 MiB at a time and stayed).
A fresh process builds a Runtime like the kiosk does, then frees 8 MiB buffers."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from pathlib import Path
from kiosk.config import Config
from kiosk.runtime import Runtime
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
if sys.argv[2] == "runtime":
    Runtime.create(Config().with_section("storage", data_dir=sys.argv[1]))
base = rss()
grown = []
for _ in range(4):
    block = bytearray(8 << 20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    del block
    keep = [bytearray(100) for _ in range(1000)]  # small objects on top of the heap
    grown.append(rss() - base)
print(max(grown[1:]))
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")


def grown_mb(tmp_path: Path, mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), mode], env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def test_freed_large_buffers_leave_no_grown_heap_in_a_kiosk_process(tmp_path: Path) -> None:
    assert grown_mb(tmp_path, "runtime") < 2.0


def test_the_probe_sees_the_growth_without_the_runtime(tmp_path: Path) -> None:
    """The same probe without Runtime.create: the heap keeps the 8 MiB (so the test above
    would see it if the runtime stopped fixing the threshold)."""
    assert grown_mb(tmp_path, "bare") > 6.0
