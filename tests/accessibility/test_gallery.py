"""`kiosk gallery`: every screen of every flow fits, in the hardest mode and languages.

Run as the command a technician or CI would run (a child process): the gallery drives
its own Qt event loop run after run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.flows.package import load_package


def gallery(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               KIOSK_STORAGE_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "g"
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--log-level", "WARNING", "gallery",
                           "--out", str(out), *args], capture_output=True, text=True, env=env,
                          timeout=900)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return proc, report


@pytest.mark.slow
def test_every_flow_fits_in_elder_mode_in_english_and_traditional_chinese(tmp_path: Path
                                                                          ) -> None:
    proc, report = gallery(tmp_path, "--mode", "elder", "--locale", "en", "--locale", "zh_HK",
                           "--size", "1920x1080", "--size", "1080x1920")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    flows = load_package(BUILTIN_DIR).catalog()
    assert report["runs"] == 2 * 2 * (len(flows) + 1)  # sizes x languages x (flows + catalog tour)
    assert report["failed_runs"] == [] and report["problems"] == {}
    shots = list((tmp_path / "g").rglob("*.png"))
    assert len(shots) >= report["screens"] > 50


def test_gallery_writes_screens_and_a_report(tmp_path: Path) -> None:
    proc, report = gallery(tmp_path, "--flow", "ss_certificate", "--size", "1280x1024",
                           "--mode", "standard", "--locale", "zh_CN")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["runs"] == 1 and report["problems"] == {} and report["failed_runs"] == []
    assert (tmp_path / "g" / "ss_certificate" / "zh_CN-standard-1280x1024" /
            "01-attract.png").exists()
