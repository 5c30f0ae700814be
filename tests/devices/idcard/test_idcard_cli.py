"""`kiosk device read-id` and `kiosk device status` against the SAM emulator, as a technician
runs them (a separate process opening the pty)."""

from __future__ import annotations

import json
import subprocess
import sys

from emulators.sam_emulator import SamEmulator
from synthetic.cards import CARDS

FAST = "reply_ms=300&read_reply_ms=600&gap_ms=100&poll_ms=20"


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "device", *args],
                          capture_output=True, text=True, timeout=60)


def test_read_id_prints_a_masked_identity(sam: SamEmulator) -> None:
    sam.place("chen")
    res = kiosk("read-id", f"sam+serial://{sam.port}?{FAST}", "--json", "--timeout", "5")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    card = CARDS["chen"]
    assert out["ok"] and out["kind"] == "idcard"
    assert out["identity"]["id_number"] == card.number[:4] + "*" * 10 + card.number[-4:]
    assert out["identity"]["name"] == card.name[0] + "**"
    assert card.number not in res.stdout + res.stderr and card.name not in res.stdout
    assert out["events"] == ["waiting", "present", "reading", "read"]


def test_read_id_with_personal_data_for_a_foreign_card(sam: SamEmulator) -> None:
    sam.place("tanaka")
    res = kiosk("read-id", f"sam+serial://{sam.port}?{FAST}", "--json",
                "--show-personal-data")
    out = json.loads(res.stdout)["identity"]
    card = CARDS["tanaka"]
    assert out["id_number"] == card.number and out["english_name"] == card.english_name
    assert out["nationality"] == "JPN" and out["card_kind"] == "foreign_permanent_2023"
    assert out["photo_format"] == "wlt" and out["photo_bytes"] == 1024


def test_read_id_text_output_and_no_card(sam: SamEmulator) -> None:
    res = kiosk("read-id", f"sam+serial://{sam.port}?{FAST}", "--timeout", "0.2")
    assert res.returncode == 2
    assert "idcard.no_card" in res.stdout and "未检测到证件" in res.stdout
    sam.place("li")
    res = kiosk("read-id", f"sam+serial://{sam.port}?{FAST}", "--locale", "en")
    assert res.returncode == 0 and "resident" in res.stdout
    assert CARDS["li"].number not in res.stdout


def test_read_id_reports_a_sam_fault(sam: SamEmulator) -> None:
    sam.fail(0x66, (0x11, 0xFF))
    res = kiosk("read-id", f"sam+serial://{sam.port}?{FAST}", "--json")
    out = json.loads(res.stdout)
    assert res.returncode == 1 and out["error"] == "idcard.sam_unauthorised"


def test_status_json(sam: SamEmulator) -> None:
    res = kiosk("status", f"sam+serial://{sam.port}?{FAST}", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["state"] == "online"
    sam.silent = True
    res = kiosk("status", f"sam+serial://{sam.port}?{FAST}", "--json")
    assert json.loads(res.stdout)["state"] == "no_device"


def test_emulator_as_a_process_driven_on_stdin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The form used for demos and technician training: a separate emulator process."""
    link = tmp_path / "idcard"
    proc = subprocess.Popen([sys.executable, "-m", "emulators.sam_emulator", "--link", str(link)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().startswith("PORT /dev/")
        uri = f"sam+serial://{link}?{FAST}"
        assert kiosk("read-id", uri, "--json", "--timeout", "0.1").returncode == 2
        for line in ("place lam", "corrupt 1"):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "OK"
        out = json.loads(kiosk("read-id", uri, "--json").stdout)
        assert out["identity"]["card_kind"] == "hmt_residence_permit"
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
        assert not link.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
