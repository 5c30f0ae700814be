"""Bytes in and out of a serial port (pyserial); knows nothing of codes or frames."""

from __future__ import annotations

import logging
import termios  # pyserial's POSIX backend raises termios.error on a vanished tty

import serial

log = logging.getLogger(__name__)


class TransportLost(Exception):
    """The port went away (unplugged, pseudo-terminal closed) or cannot be opened."""


class SerialTransport:
    def __init__(self, port: str, baud: int = 9600, *, read_timeout: float = 0.05) -> None:
        self.port = port
        self.baud = baud
        self.read_timeout = read_timeout
        self._ser: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        try:
            ser = serial.serial_for_url(self.port, do_not_open=True, baudrate=self.baud,
                                        bytesize=8, parity="N", stopbits=1,
                                        timeout=self.read_timeout, write_timeout=1.0)
            if hasattr(ser, "exclusive") and not self.port.startswith(("loop://", "socket://")):
                ser.exclusive = True  # another process on the same scanner steals codes
            ser.open()
            ser.reset_input_buffer()  # stale bytes from before we listened
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportLost(f"cannot open {self.port}: {exc}") from exc
        self._ser = ser

    def read(self, size: int = 512) -> bytes:
        """Up to `size` bytes; b"" when nothing arrived within the read timeout."""
        ser = self._ser
        if ser is None:
            raise TransportLost("port not open")
        try:
            waiting = ser.in_waiting
            data = ser.read(max(1, min(size, waiting)) if waiting else 1)
            if data and ser.in_waiting:
                data += ser.read(min(size, ser.in_waiting))
            return bytes(data)
        except (serial.SerialException, OSError, TypeError, termios.error) as exc:
            # pyserial raises SerialException (EIO) when a USB-serial device or a pty
            # goes away; TypeError comes from a port closed under a reader.
            raise TransportLost(f"read failed on {self.port}: {exc}") from exc

    def write(self, data: bytes) -> None:
        ser = self._ser
        if ser is None:
            raise TransportLost("port not open")
        try:
            ser.write(data)
            ser.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise TransportLost(f"write failed on {self.port}: {exc}") from exc

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError, termios.error):
                pass
