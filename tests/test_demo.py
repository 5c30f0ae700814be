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
    # the certificate is e-sealed (docs/sealing.md): poppler's pdfsig and our verifier
    # accept it, and neither accepts it with one byte changed
    cert, changed = out / "certificate.pdf", tmp_path / "changed.pdf"
    data = bytearray(cert.read_bytes())
    data[data.index(b"ReportLab")] ^= 0x01
    changed.write_bytes(bytes(data))
    for pdf, ok in ((cert, True), (changed, False)):
        sig = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
        assert ("Signature is Valid." in sig and "Total document signed" in sig) is ok, sig
        verify = subprocess.run([sys.executable, "-m", "kiosk", "document", "verify", str(pdf)],
                                capture_output=True, text=True, env=env, timeout=120)
        assert (verify.returncode == 0) is ok, verify.stdout + verify.stderr


@pytest.mark.slow
def test_demo_writes_the_log_file_that_export_logs_packs(tmp_path: Path) -> None:
    """`kiosk demo` logs to the same masked file as `kiosk run`, so a technician's log
    export after a demo (or a training session) holds the demo's logs."""
    import zipfile

    from synthetic.citizens import CITIZENS

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["KIOSK_STORAGE_DATA_DIR"] = str(tmp_path / "data")
    demo = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--headless", "--out",
                           str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=180, env=env, check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    export = subprocess.run([sys.executable, "-m", "kiosk", "maintenance", "export-logs",
                             str(tmp_path / "usb")], capture_output=True, text=True,
                            timeout=120, env=env, check=False)
    assert export.returncode == 0, export.stderr
    (bundle,) = (tmp_path / "usb").glob("kiosk-logs-*.zip")
    with zipfile.ZipFile(bundle) as zf:
        logs = "".join(zf.read(n).decode("utf-8") for n in zf.namelist()
                       if n.startswith("logs/"))
    assert "starting flow ss_certificate" in logs
    assert "flow ss_certificate ended (completed)" in logs
    assert "4419**********3627" in logs  # the citizen was identified, masked
    for c in CITIZENS:
        assert c.id_number not in logs and c.name not in logs, c.key
