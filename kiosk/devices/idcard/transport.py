"""Bytes to and from the SAM module over a serial line (pyserial), one exchange at a time."""

from __future__ import annotations

import logging
import termios  # pyserial's POSIX backend raises termios.error on a vanished tty
import threading
import time
from dataclasses import dataclass

import serial

from kiosk.devices.idcard.sam_protocol import (
    Command,
    FrameDecoder,
    FrameError,
    FrameErrorKind,
    Reply,
    build_frame,
)

log = logging.getLogger(__name__)

_PORT_ERRORS = (serial.SerialException, OSError, termios.error)


class LinkDown(Exception):
    """The serial port cannot be opened or has gone away (reader unplugged)."""


class NoReply(Exception):
    """Nothing, or only part of a frame, came back in time."""

    def __init__(self, partial: bool) -> None:
        super().__init__("partial frame" if partial else "no reply")
        self.partial = partial


@dataclass(frozen=True)
class Timing:
    """How long to wait: for the first byte of a reply, and between bytes of one reply."""

    reply_s: float = 0.5
    read_reply_s: float = 2.0  # a text+photo read takes about 1 s on real modules
    gap_s: float = 0.25


class SerialTransport:
    """A pyserial port (any `serial_for_url` URL: a device path, `loop://`, …)."""

    def __init__(self, port: str, baud: int = 115200, timing: Timing | None = None) -> None:
        self.port = port
        self.baud = baud
        self.timing = timing or Timing()
        self._serial: serial.Serial | None = None
        self._decoder = FrameDecoder()
        self.frame_errors = 0
        self.noise_bytes = 0

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        try:
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baud, bytesize=8, parity="N", stopbits=1,
                timeout=0.05, write_timeout=1.0)
        except (*_PORT_ERRORS, ValueError) as exc:
            raise LinkDown(f"{self.port}: {exc}") from exc
        self._decoder.clear()

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except _PORT_ERRORS:
                pass
        self._serial = None

    def exchange(self, command: Command, cancel: threading.Event | None = None) -> Reply:
        """Send one command and return its reply; raise NoReply, FrameError or LinkDown.

        Input left over from an earlier, abandoned exchange is discarded first, so a
        late reply can never be taken for the answer to this command.
        """
        ser = self._require()
        wait_first = (self.timing.read_reply_s
                      if command in (Command.READ_BASE, Command.READ_FULL) else self.timing.reply_s)
        try:
            ser.reset_input_buffer()
            self._decoder.clear()
            ser.write(build_frame(command))
            ser.flush()
            return self._receive(ser, wait_first, cancel)
        except _PORT_ERRORS as exc:
            self.close()
            raise LinkDown(str(exc)) from exc

    def _receive(self, ser: serial.Serial, wait_first: float,
                 cancel: threading.Event | None) -> Reply:
        deadline = time.monotonic() + wait_first
        skipped_at_start = self._decoder.skipped
        last_byte = 0.0
        first_error: FrameError | None = None
        while True:
            if cancel is not None and cancel.is_set():
                raise NoReply(partial=self._decoder.pending > 0)
            chunk = ser.read(max(1, ser.in_waiting))
            now = time.monotonic()
            if chunk:
                last_byte = now
                skipped_before = self._decoder.skipped
                results = self._decoder.feed(chunk)
                self.noise_bytes += self._decoder.skipped - skipped_before
                for item in results:
                    if isinstance(item, Reply):
                        return item
                    self.frame_errors += 1
                    first_error = first_error or item
                if first_error is not None and not self._decoder.pending:
                    break  # a damaged frame and nothing after it: no need to wait
                continue
            if last_byte and now - last_byte > self.timing.gap_s:
                break
            if not last_byte and now > deadline:
                break
        if first_error is not None:
            raise first_error
        if self._decoder.pending:
            raise FrameError(FrameErrorKind.TRUNCATED,
                             f"{self._decoder.pending} bytes then silence")
        if self._decoder.skipped > skipped_at_start:
            raise FrameError(FrameErrorKind.PREAMBLE, "only noise on the line")
        raise NoReply(partial=False)

    def _require(self) -> serial.Serial:
        if self._serial is None:
            raise LinkDown("port not open")
        return self._serial
