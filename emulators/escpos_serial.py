"""The emulated ESC/POS printer on a pseudo-terminal, for the serial transport.

    emu = EscposSerialEmulator().start()
    uri = f"escpos+serial://{emu.port}?baud=115200"

The kiosk opens `emu.port` (the pty's slave side) with pyserial; this side reads the
master. `drop_after_bytes = N` closes the master mid-job (the cable pulled).
"""

from __future__ import annotations

import errno
import os
import select
import threading
import tty
from pathlib import Path
from typing import Self

from emulators.escpos_listener import JobSaver, pump
from emulators.escpos_printer import EmulatedPrinter


class EscposSerialEmulator:
    def __init__(self, printer: EmulatedPrinter | None = None, out: Path | None = None) -> None:
        self.printer = printer or EmulatedPrinter()
        self.saver = JobSaver(self.printer, out)
        self.drop_after_bytes: int | None = None
        self.dropped = False
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="escpos-serial", daemon=True)

    def start(self) -> EscposSerialEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        fd = self._master

        def recv(timeout: float) -> bytes | None:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return b""
            try:
                return os.read(fd, 65536)
            except OSError as exc:
                if exc.errno == errno.EIO:  # no process has the slave open right now
                    self._stop.wait(timeout)
                    return b""
                return None

        def send(data: bytes) -> None:
            try:
                os.write(fd, data)
            except OSError:
                pass

        why = pump(recv, send, self.printer, self._stop, lambda: self.drop_after_bytes,
                   self.saver.save_new)
        if why == "dropped":
            self.dropped = True
            os.close(self._master)
            self._master = -1
