"""The issue's "done when", as the README's demo runs it: every part real and separate.

`kiosk-ops stack` (the operations centre with its broker and the assist hub), the hall
agent in Chromium (scripts/demo_agent.py, fake camera and microphone) and the headless
demo terminal (`kiosk demo --assisted`: the kiosk window, the call engine, the scripted
citizen's real clicks). The citizen on the certificate flow asks for help at the period
step, the agent sees the masked screen and proposes 近24个月, the citizen confirms and
finishes: the printed certificate covers 24 months (the flow's default is 12), the
centre's record says who, what and how it ended, and nothing of the call is on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from synthetic.citizens import CITIZENS

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                                reason="needs Debian's chromium and chromium-driver")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    ops = REPO / ".venv" / "bin" / "kiosk-ops"
    cmd = [str(ops)] if ops.exists() else [sys.executable, "-m", "opscentre.cli"]
    proc = subprocess.Popen([*cmd, "stack", "--dir", str(tmp_path / "ops"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail("kiosk-ops stack did not start: " + (proc.stderr.read() if proc.stderr
                                                          else ""))
    info = json.loads(line)
    info["dir"] = tmp_path / "ops"
    yield info
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _months(text: str) -> int:
    """Months covered by the certificate's 查询期间 (inclusive)."""
    m = re.search(r"(\d{4})年(\d{2})月 至 (\d{4})年(\d{2})月", text)
    assert m, text[:400]
    y1, m1, y2, m2 = (int(x) for x in m.groups())
    return (y2 - y1) * 12 + (m2 - m1) + 1


@pytest.mark.slow
def test_citizen_gets_help_at_the_period_step_and_finishes(tmp_path: Path,
                                                           stack: dict[str, Any]) -> None:
    ops: Path = stack["dir"]
    broker = json.loads((ops / "broker" / "broker.json").read_text())
    terminal_pw, agent_pw = tmp_path / "terminal.pw", tmp_path / "agent.pw"
    terminal_pw.write_text(broker["terminals"]["DG-DEMO-0001"])
    agent_pw.write_text(stack["agent"]["password"])
    out, data = tmp_path / "out", tmp_path / "data"
    agent = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "demo_agent.py"), "--console", stack["console"],
         "--user", stack["agent"]["user"], "--password-file", str(agent_pw),
         "--out", str(out / "assist"), "--choose", "preset:last_24", "--timeout", "150"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(KIOSK_STORAGE_DATA_DIR=str(data), KIOSK_FLEET_PASSWORD_FILE=str(terminal_pw),
               KIOSK_ASSIST_CENTRE_URL="ws" + stack["console"].removeprefix("http"))
    try:
        demo = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--assisted", "--out",
                               str(out)], capture_output=True, text=True, timeout=300, env=env)
    finally:
        try:
            agent_log = agent.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            agent.kill()
            agent_log = agent.communicate()[0]
    said = demo.stdout + demo.stderr
    assert demo.returncode == 0, said[-3000:] + agent_log
    assert "remote help: done" in said, said[-3000:]
    summary = json.loads((out / "assist" / "agent.json").read_text())
    assert summary == {**summary, "answered": True, "proposal": "confirmed", "ended": True}
    # The agent's period is the one printed (the flow's own default is the last 12 months).
    text = subprocess.run(["pdftotext", str(out / "certificate.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert _months(text) == 24
    # Both sides were photographed: the kiosk's proposal and the agent's masked mirror.
    for shot in (out / "screens" / "assist-3-proposal.png",
                 out / "assist" / "agent-2-masked-screen.png"):
        assert shot.stat().st_size > 10_000, shot
    # The centre's record of the call: terminal, service, times, outcome; nothing else.
    rows = requests.get(f"{stack['console']}/api/assist/calls", timeout=10,
                        headers={"Authorization": f"Bearer {stack['token']}"}).json()
    calls = rows["calls"] if isinstance(rows, dict) else rows
    [call] = calls
    assert call["terminal"] == "DG-DEMO-0001" and call["service"] == "ss_certificate"
    assert call["outcome"] == "resolved" and call["answered_at"] and call["ended_at"]
    # No personal data in the logs; nothing of the call (pictures, sound) in the data folder.
    chen = next(c for c in CITIZENS if c.key == "chen")
    for secret in (chen.id_number, chen.name):
        assert secret not in said
    for path in data.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert b"data:image/jpeg" not in raw and not raw.startswith(b"\xff\xd8\xff"), path
            assert path.suffix.lower() not in (".jpg", ".jpeg", ".wav", ".webm", ".ogg"), path
