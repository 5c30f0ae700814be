"""A serial QR scanner on the far side of a pseudo-terminal (the peer, not our code).

The emulator owns the pty master and publishes the slave under a stable path (a
symlink, like udev's /dev/serial/by-id/… names), so the kiosk opens it with pyserial
exactly as it opens a USB-serial scanner. It can:

* send codes with any suffix, split into several writes with pauses in between;
* send line noise;
* behave like a Honeywell scanner in serial-trigger mode: codes presented while the
  scanner is not triggered wait until the host sends SYN T CR (16 54 0D); SYN U CR
  (16 55 0D) stops it;
* be unplugged (the pty is closed: the host's reads fail with EIO and the path
  disappears) and plugged back in (a new pty behind the same path).

Run it by hand: `python -m emulators.scanner_emulator --link /tmp/ttyQR --code HELLO
--every 2` and point `kiosk device scan 'qr+serial:///tmp/ttyQR'` at it.
"""

from __future__ import annotations

import argparse
import os
import select
import threading
import time
import tty
from collections.abc import Sequence
from pathlib import Path

TRIGGER_ON = b"\x16T\r"
TRIGGER_OFF = b"\x16U\r"


class ScannerEmulator:
    def __init__(self, link: str | Path, *, trigger_mode: bool = False,
                 suffix: bytes = b"\r") -> None:
        self.link = Path(link)
        self.trigger_mode = trigger_mode
        self.suffix = suffix
        self.received = bytearray()  # host bytes not yet understood
        self.commands: list[bytes] = []  # trigger commands the host sent, in order
        self.triggered = threading.Event()
        self.trigger_count = 0
        self.plug_count = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.Lock()
        self._held: list[bytes] = []  # codes presented while not triggered
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()

    # -- plugging ---------------------------------------------------------------------
    def start(self) -> ScannerEmulator:
        self.replug()
        return self

    def replug(self) -> None:
        """Create a fresh pty and point the link at it (a scanner plugged in)."""
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)  # no CR->LF translation before the host configures the port
            name = os.ttyname(slave)
            tmp = self.link.with_name(self.link.name + ".new")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(name)
            os.replace(tmp, self.link)
            self._master, self._slave = master, slave
            self.plug_count += 1
            self._stop.clear()
            self._reader = threading.Thread(target=self._read_host, args=(master,),
                                            daemon=True, name="scanner-emulator")
            self._reader.start()

    def unplug(self) -> None:
        """Close the pty and remove the link (a USB scanner pulled out)."""
        with self._lock:
            master, slave = self._master, self._slave
            self._master = self._slave = None
            self._stop.set()
            if self.link.is_symlink():
                self.link.unlink()
        for fd in (slave, master):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._reader is not None:
            self._reader.join(1.0)
            self._reader = None
        self.triggered.clear()

    def stop(self) -> None:
        self.unplug()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # -- what the scanner sends ------------------------------------------------------------
    def write_raw(self, data: bytes, chunks: Sequence[int] = (), pause: float = 0.0) -> None:
        """Write bytes, optionally split into writes of the given sizes with pauses."""
        parts: list[bytes] = []
        rest = data
        for size in chunks:
            parts.append(rest[:size])
            rest = rest[size:]
        if rest or not parts:
            parts.append(rest)
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            with self._lock:
                if self._master is None:
                    raise OSError("scanner unplugged")
                os.write(self._master, part)

    def scan(self, code: str | bytes, *, suffix: bytes | None = None,
             chunks: Sequence[int] = (), pause: float = 0.0) -> bool:
        """Present a code. In trigger mode it is held until the host triggers a read.

        Returns True if the code went out now, False if it is waiting for a trigger.
        """
        raw = (code.encode("utf-8") if isinstance(code, str) else code) + \
            (self.suffix if suffix is None else suffix)
        if self.trigger_mode and not self.triggered.is_set():
            self._held.append(raw)
            return False
        self.write_raw(raw, chunks, pause)
        if self.trigger_mode:
            self.triggered.clear()  # a Honeywell stops after a good read
        return True

    def noise(self, data: bytes = b"\x00\xff\x13\x92\x07garbage\x1b[2J") -> None:
        self.write_raw(data)

    # -- what the host sends -----------------------------------------------------------------
    def _read_host(self, master: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 256)
            except OSError:
                return
            if not data:
                return
            self.received.extend(data)
            self._interpret()

    def _interpret(self) -> None:
        while True:
            on = self.received.find(TRIGGER_ON)
            off = self.received.find(TRIGGER_OFF)
            hits = [(i, c) for i, c in ((on, TRIGGER_ON), (off, TRIGGER_OFF)) if i >= 0]
            if not hits:
                return
            i, cmd = min(hits)
            del self.received[:i + len(cmd)]
            self.commands.append(cmd)
            if cmd == TRIGGER_ON:
                self.trigger_count += 1
                self.triggered.set()
                if self._held:
                    raw = self._held.pop(0)
                    try:
                        self.write_raw(raw)
                    except OSError:
                        return
                    self.triggered.clear()
            else:
                self.triggered.clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="serial QR scanner emulator on a pty")
    ap.add_argument("--link", default="/tmp/ttyQR", help="path the host opens")
    ap.add_argument("--code", action="append", default=[], help="code to send (repeatable)")
    ap.add_argument("--every", type=float, default=2.0, help="seconds between codes")
    ap.add_argument("--suffix", default="CR", choices=["CR", "LF", "CRLF", "NONE"])
    ap.add_argument("--trigger-mode", action="store_true", help="wait for SYN T CR")
    args = ap.parse_args(argv)
    suffix = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "NONE": b""}[args.suffix]
    emu = ScannerEmulator(args.link, trigger_mode=args.trigger_mode, suffix=suffix).start()
    print(f"scanner emulator on {args.link} -> {os.readlink(args.link)}", flush=True)
    codes = args.code or ["HELLO-KIOSK"]
    try:
        i = 0
        while True:
            time.sleep(args.every)
            emu.scan(codes[i % len(codes)])
            i += 1
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
