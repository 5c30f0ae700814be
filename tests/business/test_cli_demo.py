"""`kiosk flows list` and `kiosk demo --headless --flow ID` for the business flows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic.citizens import BY_KEY

FLOWS = {"ss_certificate": True, "tax_list": True, "no_property": True, "provident_fund": True,
         "queue_ticket": True, "evaluation": False, "service_guide": False}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["KIOSK_STORAGE_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_flows_list_json(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "kiosk", "flows", "list", "--json"],
                         capture_output=True, text=True, timeout=60, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert {k: rows[k]["requires_online"] for k in FLOWS} == FLOWS
    assert rows["tax_list"]["title"] == "个税纳税清单"
    assert rows["no_property"]["title"] == "无房证明"
    text = subprocess.run([sys.executable, "-m", "kiosk", "flows", "list"], capture_output=True,
                          text=True, timeout=60, env=_env(tmp_path)).stdout
    assert "service_guide" in text and "online=no" in text


@pytest.mark.slow
@pytest.mark.parametrize("flow,printed", [("tax_list", "a4"), ("no_property", "a4"),
                                          ("queue_ticket", "receipt")])
def test_headless_demo_of_a_flow(tmp_path: Path, flow: str, printed: str) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--headless", "--flow", flow,
                           "--out", str(out)], capture_output=True, text=True, timeout=180,
                          env=_env(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    shots = sorted((out / "screens").glob("*.png"))
    assert len(shots) >= 5
    assert any(f"{flow}." in s.name for s in shots)
    receipt = (out / "receipt.txt").read_text(encoding="utf-8")
    assert "4419**********" in receipt or "陈**" in receipt
    if printed == "a4":
        assert (out / "certificate.pdf").read_bytes().startswith(b"%PDF-")
    logs = proc.stdout + proc.stderr
    for c in BY_KEY.values():
        assert c.id_number not in logs
