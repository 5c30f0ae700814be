"""The serial scanner service through pyserial on a pty, against the scanner emulator."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.devices.registry import create_device
from kiosk.devices.scanner.api import CodeScanner
from kiosk.devices.scanner.service import SerialQrScanner


def later(delay: float, fn, *args, **kw) -> threading.Timer:  # type: ignore[no-untyped-def]
    t = threading.Timer(delay, fn, args=args, kwargs=kw)
    t.daemon = True
    t.start()
    return t


def wait_for(cond, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_code_in_split_writes_with_crlf(emulator, make_scanner) -> None:
    dev = make_scanner("suffix=CR")
    assert dev.status().state is DeviceState.ONLINE
    cancel = threading.Event()
    later(0.1, emulator.scan, "GJ1PABCDEF", suffix=b"\r\n", chunks=[1, 3, 4], pause=0.03)
    assert dev.read_code(5, cancel) == "GJ1PABCDEF"
    # The LF of that CRLF must not start a bogus frame before the next code.
    later(0.1, emulator.scan, "SECOND", suffix=b"\r\n", chunks=[6], pause=0.03)
    assert dev.read_code(5, cancel) == "SECOND"
    assert dev.pipeline.stats.garbage == 0


@pytest.mark.parametrize("query,suffix", [("suffix=LF", b"\n"), ("suffix=CRLF", b"\r\n"),
                                          ("suffix=NONE&gap_ms=100", b"")])
def test_each_configured_suffix(emulator, make_scanner, query: str, suffix: bytes) -> None:
    dev = make_scanner(query)
    later(0.1, emulator.scan, "东莞-QR-1", suffix=suffix, chunks=[3], pause=0.02)
    assert dev.read_code(5, threading.Event()) == "东莞-QR-1"


def test_noise_is_logged_and_dropped_without_the_payload(emulator, make_scanner,
                                                         caplog) -> None:
    dev = make_scanner("suffix=CR")
    caplog.set_level(logging.INFO)
    later(0.05, emulator.noise, b"\x00\xffSECRETNOISE\x13\r")
    later(0.3, emulator.scan, "AFTER-NOISE")
    assert dev.read_code(5, threading.Event()) == "AFTER-NOISE"
    assert dev.pipeline.stats.garbage == 1
    assert "discarded garbage" in caplog.text
    assert "SECRETNOISE" not in caplog.text and "AFTER-NOISE" not in caplog.text


def test_oversized_input_is_discarded(emulator, make_scanner, caplog) -> None:
    dev = make_scanner("suffix=CR&max_len=64")
    caplog.set_level(logging.WARNING)
    later(0.05, emulator.write_raw, b"Z" * 500 + b"\r", chunks=[100, 100, 100], pause=0.01)
    later(0.3, emulator.scan, "SMALL")
    assert dev.read_code(5, threading.Event()) == "SMALL"
    assert dev.pipeline.stats.oversize == 1
    assert "oversized" in caplog.text


def test_missing_suffix_falls_back_to_the_gap(emulator, make_scanner) -> None:
    dev = make_scanner("suffix=CR&gap_ms=80")
    later(0.05, emulator.scan, "NO-SUFFIX", suffix=b"")
    assert dev.read_code(5, threading.Event()) == "NO-SUFFIX"


def test_duplicates_within_the_window_are_suppressed(emulator, make_scanner) -> None:
    dev = make_scanner("suffix=CR&dedup_ms=2000")
    seen: list[str] = []
    unsubscribe = dev.subscribe(lambda ev: seen.append(ev.code))
    for _ in range(3):
        emulator.scan("SAME")
        time.sleep(0.05)
    emulator.scan("OTHER")
    assert wait_for(lambda: len(seen) >= 2)
    time.sleep(0.2)
    unsubscribe()
    assert seen == ["SAME", "OTHER"]
    assert dev.pipeline.stats.duplicates == 2


def test_scans_before_the_read_are_ignored(emulator, make_scanner) -> None:
    dev = make_scanner("suffix=CR&dedup_ms=0")
    emulator.scan("STALE")
    assert wait_for(lambda: dev.pipeline.stats.codes == 1)
    later(0.1, emulator.scan, "FRESH")
    assert dev.read_code(5, threading.Event()) == "FRESH"


def test_timeout_and_cancel(make_scanner) -> None:
    dev = make_scanner("suffix=CR")
    with pytest.raises(DeviceError) as err:
        dev.read_code(0.2, threading.Event())
    assert err.value.key == "scanner.timeout"
    cancel = threading.Event()
    later(0.1, cancel.set)
    with pytest.raises(Cancelled):
        dev.read_code(10, cancel)


def test_unplug_and_replug_recover_without_restart(emulator, make_scanner, caplog) -> None:
    dev = make_scanner("suffix=CR")
    cancel = threading.Event()
    later(0.05, emulator.scan, "BEFORE")
    assert dev.read_code(5, cancel) == "BEFORE"

    emulator.write_raw(b"HALF-A-CO")  # a partial code, then the cable is pulled
    time.sleep(0.05)
    emulator.unplug()
    assert wait_for(lambda: dev.status().state is DeviceState.NO_DEVICE)
    with pytest.raises(DeviceError) as err:
        dev.read_code(0.3, cancel)
    assert err.value.key == "scanner.offline"

    emulator.replug()
    assert wait_for(lambda: dev.status().state is DeviceState.ONLINE)
    later(0.1, emulator.scan, "AFTER")
    assert dev.read_code(5, cancel) == "AFTER"  # the partial code was not glued on
    assert dev.pipeline.stats.reconnects == 1
    assert "lost" in caplog.text


def test_read_waits_across_an_unplug(emulator, make_scanner) -> None:
    dev = make_scanner("suffix=CR")

    def pull_and_return() -> None:
        emulator.unplug()
        time.sleep(0.3)
        emulator.replug()
        time.sleep(0.4)
        emulator.scan("BACK-AGAIN")

    later(0.1, pull_and_return)
    assert dev.read_code(8, threading.Event()) == "BACK-AGAIN"


def test_scanner_absent_at_start_is_found_later(tmp_path) -> None:
    from emulators.scanner_emulator import ScannerEmulator

    link = tmp_path / "late"
    dev = create_device("scanner", f"qr+serial://{link}?reconnect_ms=50")
    assert isinstance(dev, CodeScanner)
    dev.open()
    try:
        assert dev.status().state is DeviceState.NO_DEVICE
        emu = ScannerEmulator(link).start()
        try:
            assert wait_for(lambda: dev.status().state is DeviceState.ONLINE)
            later(0.1, emu.scan, "LATE")
            assert dev.read_code(5, threading.Event()) == "LATE"
        finally:
            emu.stop()
    finally:
        dev.close()
    assert dev.status().state is DeviceState.OFFLINE


def test_honeywell_trigger_mode(tmp_path) -> None:
    from emulators.scanner_emulator import TRIGGER_OFF, TRIGGER_ON, ScannerEmulator

    emu = ScannerEmulator(tmp_path / "hw", trigger_mode=True).start()
    dev = create_device("scanner", f"qr+serial://{emu.link}?trigger=honeywell&reconnect_ms=50")
    assert isinstance(dev, SerialQrScanner)  # its pipeline's counters
    dev.open()
    try:
        assert emu.scan("HELD") is False  # presented, but the scanner is not reading
        time.sleep(0.2)
        assert dev.pipeline.stats.codes == 0
        assert dev.read_code(5, threading.Event()) == "HELD"
        assert wait_for(lambda: TRIGGER_OFF in emu.commands)
        assert emu.commands[:2] == [TRIGGER_ON, TRIGGER_OFF]
        assert "trigger_mode" in dev.status().details
        report = dev.self_test()
        assert report.passed and [c.name for c in report.checks] == ["port", "trigger", "stats"]
    finally:
        dev.close()
        emu.stop()


def test_trigger_is_resent_when_the_scanners_own_timeout_ends(tmp_path) -> None:
    from emulators.scanner_emulator import TRIGGER_ON, ScannerEmulator

    emu = ScannerEmulator(tmp_path / "hw2", trigger_mode=True).start()
    dev = create_device("scanner", f"qr+serial://{emu.link}?trigger=honeywell&retrigger_ms=150")
    assert isinstance(dev, CodeScanner)
    dev.open()
    try:
        def scanner_times_out_then_code() -> None:
            assert wait_for(lambda: emu.trigger_count >= 1)
            emu.triggered.clear()  # the scanner's read time-out ran out: it stops reading
            emu.scan("SECOND-TRY")  # held until the host triggers again
        later(0.0, scanner_times_out_then_code)
        assert dev.read_code(5, threading.Event()) == "SECOND-TRY"
        assert emu.commands.count(TRIGGER_ON) >= 2
    finally:
        dev.close()
        emu.stop()


@pytest.mark.parametrize("uri", [
    "qr+serial:///dev/ttyX?suffix=TAB",
    "qr+serial:///dev/ttyX?trigger=zebra",
    "qr+serial:///dev/ttyX?baud=0",
    "qr+serial:///dev/ttyX?max_len=0",
    "qr+serial:///dev/ttyX?baud=fast",
    "qr+serial://",
])
def test_bad_uris_are_clear_errors(uri: str) -> None:
    with pytest.raises(DeviceError) as err:
        create_device("scanner", uri)
    assert err.value.key == "device.unsupported_uri"
    assert not err.value.retryable


def test_port_forms() -> None:
    from kiosk.devices.base import DeviceUri
    from kiosk.devices.scanner.service import port_of

    assert port_of(DeviceUri.parse("qr+serial:///dev/ttyACM0?suffix=CR")) == "/dev/ttyACM0"
    assert port_of(DeviceUri.parse("qr+serial://ttyACM0?baud=9600")) == "/dev/ttyACM0"
    assert port_of(DeviceUri.parse("qr+serial://COM3")) == "COM3"


def test_capabilities(make_scanner) -> None:
    caps = make_scanner("suffix=CRLF&baud=115200").capabilities()
    assert caps["suffix"] == "CRLF" and caps["baud"] == 115200 and caps["kind"] == "scanner"
