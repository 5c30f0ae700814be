"""Technician commands against the private pcscd: read-id, status, pcsc-readers."""

from __future__ import annotations

import json
import subprocess
import sys

from synthetic.citizens import BY_KEY


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    # PCSCLITE_CSOCK_NAME (set by conftest) leads the child to the private pcscd.
    return subprocess.run([sys.executable, "-m", "kiosk", "device", *args],
                          capture_output=True, text=True, timeout=60)


def test_read_id_on_pcsc(pcscd, vcard, wait_card_state) -> None:  # type: ignore[no-untyped-def]
    vcard.send("insert wang")
    assert wait_card_state(pcscd.reader, present=True)
    res = kiosk("read-id", pcscd.uri, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    c = BY_KEY["wang"]
    assert out["kind"] == "sscard" and out["identity"]["card_kind"] == "social_security"
    assert out["identity"]["id_number"] == c.id_number[:4] + "*" * 10 + c.id_number[-4:]
    assert c.id_number not in res.stdout and c.name not in res.stdout
    res = kiosk("read-id", pcscd.uri, "--json", "--show-personal-data")
    ident = json.loads(res.stdout)["identity"]
    assert (ident["id_number"], ident["name"], ident["card_number"]) == (
        c.id_number, c.name, c.ss_card_no)


def test_read_id_not_a_social_security_card(pcscd, vcard, wait_card_state) -> None:  # type: ignore[no-untyped-def]
    vcard.send("not_ss on")
    vcard.send("insert li")
    assert wait_card_state(pcscd.reader, present=True)
    res = kiosk("read-id", pcscd.uri, "--locale", "en")
    assert res.returncode == 1
    assert "sscard.not_ss_card" in res.stdout and "not a social security card" in res.stdout


def test_status_and_readers(pcscd, vcard, wait_card_state) -> None:  # type: ignore[no-untyped-def]
    res = kiosk("status", pcscd.uri, "--json")
    assert json.loads(res.stdout)["state"] == "online", res.stdout
    res = kiosk("status", "pcsc://?reader=nothing-like-this", "--json")
    assert json.loads(res.stdout)["state"] == "no_device"
    vcard.send("insert chen")
    assert wait_card_state(pcscd.reader, present=True)
    out = json.loads(kiosk("pcsc-readers", "--json").stdout)
    mine = [r for r in out["readers"] if r["reader"] == pcscd.reader]
    assert out["ok"] and mine and mine[0]["card_present"] and mine[0]["atr"] == "3B 02 14 50"
    text = kiosk("pcsc-readers").stdout
    assert f"{pcscd.reader}: card ATR 3B 02 14 50" in text
