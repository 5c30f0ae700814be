"""The README's first command: `kiosk demo --headless --out DIR` leaves what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_headless_demo_writes_screens_pdf_and_receipt(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["KIOSK_STORAGE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shots = sorted((out / "screens").glob("*.png"))
    assert len(shots) >= 7
    assert any("preview" in s.name for s in shots)
    assert (out / "certificate.pdf").read_bytes().startswith(b"%PDF-")
    receipt = (out / "receipt.txt").read_text(encoding="utf-8")
    assert "社会保险参保缴费证明" in receipt and "4419**********3627" in receipt
    assert "[QR: http://127.0.0.1:" in receipt
    raw = (out / "receipt.escpos").read_bytes()
    assert raw.startswith(b"\x1b@\x1c&")  # init, Chinese mode
    assert b"\x1dV" in raw  # cut
    # logs never carry a full ID number
    assert "441900198503143627" not in proc.stdout + proc.stderr
