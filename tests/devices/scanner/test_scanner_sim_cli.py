"""The scanner simulator (same framing as the serial one) and `kiosk device scan`."""

from __future__ import annotations

import json
import threading
import time

import pytest

from kiosk.cli import main as kiosk_main
from kiosk.devices.base import DeviceError, DeviceState
from kiosk.devices.registry import create_device
from kiosk.devices.scanner.api import CodeScanner, ScriptableScanner
from kiosk.devices.scanner.sim import SimQrScanner


def test_sim_scanner_is_a_real_simulator() -> None:
    dev = create_device("scanner", "sim://?suffix=CRLF")
    assert type(dev) is SimQrScanner  # feed_bytes, unplug, pipeline: the simulator's own
    assert dev.status().state is DeviceState.OFFLINE
    dev.open()
    try:
        assert dev.status().state is DeviceState.ONLINE
        threading.Timer(0.05, dev.scan, args=("CODE-1",)).start()
        assert dev.read_code(2, threading.Event()) == "CODE-1"
        threading.Timer(0.05, dev.feed_bytes, args=(b"\x00\x01\x02\r\n",)).start()
        threading.Timer(0.1, dev.scan, args=("CODE-2",)).start()
        assert dev.read_code(2, threading.Event()) == "CODE-2"
        assert dev.pipeline.stats.garbage == 1
        dev.unplug()
        assert dev.status().state is DeviceState.NO_DEVICE
        with pytest.raises(DeviceError) as err:
            dev.read_code(0.1, threading.Event())
        assert err.value.key == "scanner.offline"
        dev.replug()
        threading.Timer(0.05, dev.scan, args=("CODE-3",)).start()
        assert dev.read_code(2, threading.Event()) == "CODE-3"
    finally:
        dev.close()


def test_sim_scanner_scans_its_configured_code_by_itself() -> None:
    dev = create_device("scanner", "sim://?code=GJ1DEMO&delay_ms=50")
    assert isinstance(dev, CodeScanner)
    dev.open()
    try:
        assert dev.read_code(2, threading.Event()) == "GJ1DEMO"
    finally:
        dev.close()


def test_sim_scanner_gap_framing() -> None:
    dev = create_device("scanner", "sim://?suffix=NONE&gap_ms=50")
    assert isinstance(dev, ScriptableScanner)
    dev.open()
    try:
        threading.Timer(0.05, dev.scan, args=("NOSUFFIX",)).start()
        assert dev.read_code(2, threading.Event()) == "NOSUFFIX"
    finally:
        dev.close()


def _feed_codes(emulator, codes: list[str]) -> None:  # type: ignore[no-untyped-def]
    def run() -> None:
        time.sleep(0.4)
        for c in codes:
            emulator.scan(c, suffix=b"\r\n", chunks=[2], pause=0.01)
            time.sleep(0.15)
    threading.Thread(target=run, daemon=True).start()


def test_cli_scan_json(emulator, capsys) -> None:
    _feed_codes(emulator, ["ONE", "TWO"])
    rc = kiosk_main(["device", "scan", f"qr+serial://{emulator.link}?suffix=CR",
                     "--count", "2", "--timeout", "10", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 0
    assert [x["code"] for x in lines[:2]] == ["ONE", "TWO"]
    assert lines[2]["summary"]["read"] == 2


def test_cli_scan_plain_and_timeout(emulator, capsys) -> None:
    _feed_codes(emulator, ["ONLY"])
    rc = kiosk_main(["device", "scan", f"qr+serial://{emulator.link}", "--count", "2",
                     "--timeout", "1.5"])
    out = capsys.readouterr()
    assert rc == 1  # only one of the two codes came
    assert out.out.splitlines() == ["ONLY"]
    assert "read=1" in out.err


def test_cli_scan_bad_uri(capsys) -> None:
    rc = kiosk_main(["device", "scan", "qr+serial:///dev/x?suffix=BAD"])
    assert rc == 2
    assert "device.unsupported_uri" in capsys.readouterr().err
