"""`kiosk device status` tells the truth: a device is online only if the peer speaks its
protocol. An HTTP server on the printer port, a socket that answers garbage or a serial
line that says nothing is not a printer (or a SAM module), however well it accepts a
connection. The emulated ESC/POS printer and SAM module still are."""

from __future__ import annotations

import http.server
import json
import os
import pty
import select
import socket
import socketserver
import threading
import tty
from collections.abc import Iterator

import pytest

from emulators.escpos_listener import EscposListener
from emulators.sam_emulator import SamEmulator
from kiosk.cli import main

FAST_SAM = "reply_ms=300&read_reply_ms=600&gap_ms=100&poll_ms=20"
# No byte of it could be a DLE EOT answer ((b & 0x93) == 0x12)...
GARBAGE = b"\xff\xfe*** HELLO, 404 no such thing ***\r\n"
# ...while this one has one ("2" = 0x32) among bytes that are none: still no printer.
LUCKY = b"SSH-2.0-OpenSSH_9.6\r\n"


def status(capsys: pytest.CaptureFixture[str], uri: str, *extra: str) -> tuple[int, dict]:
    rc = main(["--log-level", "ERROR", "device", "status", uri, "--json", *extra])
    out = capsys.readouterr().out
    return rc, json.loads(out)


class _Web(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the stdlib names it `format`
        pass  # keep the test output clean


@pytest.fixture
def http_peer() -> Iterator[int]:
    """Python's own web server, on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _Garbage(socketserver.BaseRequestHandler):
    answer = GARBAGE

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            while sock.recv(1024):
                sock.sendall(self.answer)  # whatever it is asked, it answers this
        except OSError:
            pass


class _Lucky(_Garbage):
    answer = LUCKY


@pytest.fixture(params=[_Garbage, _Lucky], ids=["garbage", "one-lucky-byte"])
def garbage_peer(request: pytest.FixtureRequest) -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), request.param)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def garbage_tty() -> Iterator[str]:
    """A serial line whose far end answers every byte it gets with garbage."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    if os.read(master, 1024):
                        os.write(master, GARBAGE)
                except OSError:
                    return

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        t.join(2)
        os.close(master)
        os.close(slave)


def test_an_http_server_on_the_printer_port_is_no_printer(capsys, http_peer) -> None:  # type: ignore[no-untyped-def]
    rc, out = status(capsys, f"escpos+tcp://127.0.0.1:{http_peer}")
    assert rc == 1 and out["state"] == "no_device"
    assert "no ESC/POS status answer" in out["message"]


def test_a_peer_answering_garbage_is_no_printer(capsys, garbage_peer) -> None:  # type: ignore[no-untyped-def]
    rc, out = status(capsys, f"escpos+tcp://127.0.0.1:{garbage_peer}")
    assert rc == 1 and out["state"] == "hardware_error"
    assert "not_escpos" in out["details"] and "the peer sent" in out["message"]


def test_garbage_on_a_serial_printer_line(capsys, garbage_tty) -> None:  # type: ignore[no-untyped-def]
    rc, out = status(capsys, f"escpos+serial://{garbage_tty}?baud=115200")
    assert rc == 1 and out["state"] == "hardware_error"


def test_the_emulated_escpos_printer_is_online(capsys) -> None:  # type: ignore[no-untyped-def]
    with EscposListener() as listener:
        rc, out = status(capsys, listener.uri)
        assert rc == 0 and out["state"] == "online" and out["details"] == []
        listener.printer.set_paper("low")
        _, out = status(capsys, listener.uri)
        assert out["state"] == "online" and out["details"] == ["paper_low"]
        listener.printer.answer_status = False  # a printer that went silent
        rc, out = status(capsys, listener.uri)
        assert rc == 1 and out["state"] == "no_device"


def test_human_output_says_why(capsys, http_peer) -> None:  # type: ignore[no-untyped-def]
    rc = main(["--log-level", "ERROR", "device", "status", f"escpos+tcp://127.0.0.1:{http_peer}"])
    text = capsys.readouterr().out
    assert rc == 1 and "凭条打印机：未连接" in text and "状态查询无应答" in text
    assert "online" not in text and "正常" not in text


def test_ipp_needs_a_peer_that_speaks_ipp(capsys, http_peer, garbage_peer) -> None:  # type: ignore[no-untyped-def]
    for port in (http_peer, garbage_peer):
        rc, out = status(capsys, f"ipp://127.0.0.1:{port}/ipp/print?timeout=2")
        assert rc == 1 and out["state"] == "no_device"
        assert "no IPP answer" in out["detail"]


def test_ipp_status_of_a_web_server_is_not_ipp() -> None:
    """The driver's own status() (what the maintenance screen polls), not only open()."""
    from kiosk.devices.registry import create_device

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dev = create_device("a4", f"ipp://127.0.0.1:{server.server_address[1]}/ipp/print")
        st = dev.status()
        assert st.state.value == "no_device" and "not_ipp" in st.details
    finally:
        server.shutdown()
        server.server_close()


def test_sam_reader_needs_a_sam_status_frame(capsys, garbage_tty) -> None:  # type: ignore[no-untyped-def]
    rc, out = status(capsys, f"sam+serial://{garbage_tty}?{FAST_SAM}")
    assert rc == 1 and out["state"] != "online"
    emu = SamEmulator().start()
    try:
        rc, out = status(capsys, f"sam+serial://{emu.port}?{FAST_SAM}")
        assert rc == 0 and out["state"] == "online"
    finally:
        emu.stop()
