"""`kiosk gallery`: every screen of every flow fits, in the hardest mode and languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.ui.gallery import run_gallery


@pytest.mark.slow
def test_every_flow_fits_in_elder_mode_in_english_and_traditional_chinese(
        qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = Config().with_section("storage", data_dir=str(tmp_path / "data"))
    report = run_gallery(cfg, tmp_path / "gallery", None, ((1920, 1080), (1080, 1920)),
                         ("elder",), ("en", "zh_HK"))
    assert report.failed_runs == []
    assert report.problems == {}
    from flowpacks import BUILTIN_DIR
    from kiosk.flows.package import load_package

    flows = load_package(BUILTIN_DIR).catalog()
    assert report.runs == 2 * 2 * len(flows)  # sizes x languages x flows
    shots = list((tmp_path / "gallery").rglob("*.png"))
    assert len(shots) >= report.screens > 50


def test_gallery_cli_writes_a_report(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               KIOSK_STORAGE_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "g"
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--log-level", "WARNING", "gallery",
                           "--out", str(out), "--flow", "ss_certificate", "--size", "1280x1024",
                           "--mode", "standard", "--locale", "zh_CN"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["runs"] == 1 and report["problems"] == {} and report["failed_runs"] == []
    assert (out / "ss_certificate" / "zh_CN-standard-1280x1024" / "01-attract.png").exists()
