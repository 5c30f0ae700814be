"""The fleet status page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import TypedDict

import pytest

from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)  # type: ignore[arg-type]


class Row(TypedDict):
    status: str | None
    faults: list[str]


class Rows(HTMLParser):
    """Terminal rows and fault items of the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Row] = {}
        self._row: str | None = None
        self._li: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "terminal":
            self._row = str(a["data-terminal"])
            self.rows[self._row] = {"status": a["data-status"], "faults": []}
        elif tag == "li" and self._row and a.get("data-device"):
            self._li = f"{a['class']}:{a['data-device']}"
            self.rows[self._row]["faults"].append(self._li)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def beat(kiosk_config, fleet_backend, tid: str, maintenance: bool = False,  # type: ignore[no-untyped-def]
         **devices: str) -> None:
    cfg = kiosk_config.with_section("terminal", id=tid).with_section("devices", **devices)
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.backend = fleet_backend.client(tid)
    try:
        assert Heartbeat(rt, via="direct", status=lambda: {"maintenance": maintenance}).beat()
    finally:
        rt.close()


def test_fleet_page_lists_terminals_faults_and_last_seen(kiosk_config, fleet_backend,  # type: ignore[no-untyped-def]
                                                         tmp_path) -> None:
    empty = chromium(tmp_path, "--dump-dom", fleet_backend.url + "/fleet")
    assert "No terminal has reported yet" in empty.stdout, empty.stderr[-2000:]
    beat(kiosk_config, fleet_backend, "DG-FLEET-0001", maintenance=True)
    beat(kiosk_config, fleet_backend, "DG-FLEET-0002", receipt="sim://?paper=out",
         a4="sim://?media=low")
    out = chromium(tmp_path, "--dump-dom", fleet_backend.url + "/fleet")
    assert out.returncode == 0, out.stderr[-2000:]
    page = Rows()
    page.feed(out.stdout)
    assert list(page.rows) == ["DG-FLEET-0002", "DG-FLEET-0001"]  # faulty terminals first
    assert page.rows["DG-FLEET-0002"] == {"status": "online",
                                          "faults": ["warning:a4", "fault:receipt"]}
    assert page.rows["DG-FLEET-0001"] == {"status": "online", "faults": []}
    text = " ".join(page.text)
    assert "2 terminal(s), 1 with faults, 0 silent" in text
    assert "receipt: user_error paper_out" in text and "s ago" in text
    assert text.count("maintenance") == 1  # a technician is at DG-FLEET-0001
    shot = tmp_path / "fleet.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,600",
             fleet_backend.url + "/fleet")
    assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fleet_page_escapes_what_terminals_send(kiosk_config, fleet_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = fleet_backend.client("DG-FLEET-0003")
    c.post_json("/api/v1/fleet/heartbeat", {
        "seq": 1, "sent_at": 1_800_000_000.0, "app_version": "<script>alert(1)</script>",
        "devices": {"<b>x</b>": {"state": "offline", "fault": True,
                                 "details": ["<img src=x onerror=alert(2)>"]}}})
    out = chromium(tmp_path, "--dump-dom", fleet_backend.url + "/fleet")
    assert "<script>alert(1)" not in out.stdout and "<img src=x" not in out.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.stdout
