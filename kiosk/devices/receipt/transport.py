"""Byte transports for ESC/POS printers: TCP (port 9100), serial, USB.

Each transport only moves bytes; framing and meaning live in `escpos_protocol`
and `escpos_status`. TCP and serial are plain sockets / pyserial; USB composes
python-escpos's `Usb` connection class (pyusb) rather than inheriting from it.
"""

from __future__ import annotations

import os
import socket
import termios  # pyserial's POSIX backend raises termios.error on a vanished tty
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

from kiosk.devices.base import DeviceError, DeviceUri


class TransportError(DeviceError):
    """The link to the printer failed (refused, unplugged, dropped)."""

    def __init__(self, detail: str, *, retryable: bool = True, missing: bool = False) -> None:
        super().__init__("device.receipt.offline", detail, retryable=retryable)
        self.missing = missing


class Transport(Protocol):
    can_read: bool

    def open(self) -> None: ...

    def close(self) -> None: ...

    @property
    def is_open(self) -> bool: ...

    def write(self, data: bytes) -> None: ...

    def read(self, n: int, timeout: float) -> bytes:
        """Up to n bytes, waiting at most `timeout` seconds for the first; b'' if none."""
        ...

    def discard_input(self) -> None: ...


class TcpTransport:
    can_read = True

    def __init__(self, host: str, port: int, connect_timeout: float = 3.0,
                 write_timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.connect_timeout, self.write_timeout = connect_timeout, write_timeout
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        return f"tcp {self.host}:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as exc:
            raise TransportError(f"{self!r}: {exc.__class__.__name__}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _need(self) -> socket.socket:
        if self._sock is None:
            raise TransportError(f"{self!r}: not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        sock = self._need()
        try:
            sock.settimeout(self.write_timeout)
            sock.sendall(data)
        except OSError as exc:
            self.close()
            raise TransportError(f"{self!r}: write failed: {exc.__class__.__name__}") from exc

    def read(self, n: int, timeout: float) -> bytes:
        sock = self._need()
        try:
            sock.settimeout(max(timeout, 0.001))
            data = sock.recv(n)
        except (TimeoutError, BlockingIOError):
            return b""
        except OSError as exc:
            self.close()
            raise TransportError(f"{self!r}: read failed: {exc.__class__.__name__}") from exc
        if not data:  # orderly shutdown by the printer
            self.close()
            raise TransportError(f"{self!r}: connection closed by printer")
        return data

    def discard_input(self) -> None:
        sock = self._need()
        sock.setblocking(False)
        try:
            while True:
                try:
                    if not sock.recv(256):
                        self.close()
                        raise TransportError(f"{self!r}: connection closed by printer")
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:
                    self.close()
                    raise TransportError(f"{self!r}: {exc.__class__.__name__}") from exc
        finally:
            if self._sock is not None:
                sock.setblocking(True)


class SerialTransport:
    can_read = True

    def __init__(self, port: str, baudrate: int = 9600, flow: str = "",
                 write_timeout: float = 10.0) -> None:
        self.port, self.baudrate, self.flow = port, baudrate, flow
        self.write_timeout = write_timeout
        self._ser: Any = None

    def __repr__(self) -> str:
        return f"serial {self.port}@{self.baudrate}"

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        if self._ser is not None:
            return
        import serial

        if "://" not in self.port and not os.path.exists(self.port):
            raise TransportError(f"{self!r}: no such device", retryable=False, missing=True)
        try:
            self._ser = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=0, write_timeout=self.write_timeout,
                rtscts=self.flow == "rtscts", xonxoff=self.flow == "xonxoff",
                dsrdtr=self.flow == "dsrdtr")
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"{self!r}: {exc}") from exc

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except OSError:
                pass
            self._ser = None

    def _need(self) -> Any:
        if self._ser is None:
            raise TransportError(f"{self!r}: not open")
        return self._ser

    def write(self, data: bytes) -> None:
        import serial

        ser = self._need()
        try:
            ser.write(data)
            ser.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise TransportError(f"{self!r}: write failed: {exc}") from exc

    def read(self, n: int, timeout: float) -> bytes:
        import serial

        ser = self._need()
        try:
            ser.timeout = max(timeout, 0.001)
            return bytes(ser.read(n))
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise TransportError(f"{self!r}: read failed: {exc}") from exc

    def discard_input(self) -> None:
        import serial

        ser = self._need()
        try:
            ser.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise TransportError(f"{self!r}: {exc}") from exc


class UsbTransport:
    """USB printer class device through python-escpos's `Usb` (pyusb + libusb)."""

    can_read = True

    def __init__(self, vid: int, pid: int, in_ep: int = 0x82, out_ep: int = 0x01,
                 timeout_ms: int = 5000) -> None:
        self.vid, self.pid, self.in_ep, self.out_ep = vid, pid, in_ep, out_ep
        self.timeout_ms = timeout_ms
        self._conn: Any = None

    def __repr__(self) -> str:
        return f"usb {self.vid:04x}:{self.pid:04x}"

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def open(self) -> None:
        if self._conn is not None:
            return
        try:
            import usb.core  # noqa: F401  (pyusb, python-escpos's [usb] extra)
            from escpos.printer import Usb
        except ImportError as exc:
            raise TransportError(f"{self!r}: pyusb is not installed", retryable=False) from exc
        # A timeout of 0 means "wait forever" to libusb: never pass it.
        conn = Usb(self.vid, self.pid, timeout=max(1, self.timeout_ms), in_ep=self.in_ep,
                   out_ep=self.out_ep)
        try:
            conn.open(raise_not_found=True)
        except Exception as exc:  # python-escpos raises its own and pyusb errors
            raise TransportError(f"{self!r}: {exc.__class__.__name__}: {exc}",
                                 missing="NotFound" in exc.__class__.__name__) from exc
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001, S110 (pyusb during unplug)
                pass
            self._conn = None

    def _need(self) -> Any:
        if self._conn is None:
            raise TransportError(f"{self!r}: not open")
        return self._conn

    def write(self, data: bytes) -> None:
        conn = self._need()
        try:
            conn._raw(data)
        except Exception as exc:  # usb.core.USBError, USBTimeoutError
            self.close()
            raise TransportError(f"{self!r}: write failed: {exc}") from exc

    def read(self, n: int, timeout: float) -> bytes:
        conn = self._need()
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = bytes(conn.device.read(self.in_ep, max(n, 16),
                                              max(1, int(timeout * 1000))))
            except Exception as exc:
                if "timeout" in str(exc).lower():
                    data = b""
                else:
                    self.close()
                    raise TransportError(f"{self!r}: read failed: {exc}") from exc
            if data or time.monotonic() >= deadline:
                return data[:n]

    def discard_input(self) -> None:
        while self.read(64, 0.01):
            pass


def transport_for(uri: DeviceUri) -> Transport:
    """Build the transport a receipt printer URI names."""
    wt = float(uri.param("write_timeout", "10"))
    if uri.scheme == "escpos+tcp":
        if not uri.host:
            raise DeviceError("device.unsupported_uri", f"{uri.raw}: no host", retryable=False)
        return TcpTransport(uri.host, uri.port or 9100,
                            float(uri.param("connect_timeout", "3")), wt)
    if uri.scheme == "escpos+serial":
        port = uri.path or uri.param("port")
        if not port:
            raise DeviceError("device.unsupported_uri", f"{uri.raw}: no port", retryable=False)
        flow = uri.param("flow", "")
        if flow not in ("", "none", "rtscts", "xonxoff", "dsrdtr"):
            raise DeviceError("device.unsupported_uri", f"{uri.raw}: flow={flow}",
                              retryable=False)
        return SerialTransport(port, uri.int_param("baud", 9600), flow, wt)
    if uri.scheme == "escpos+usb":
        netloc = urlsplit(uri.raw).netloc
        try:
            vid_s, pid_s = netloc.split(":")
            vid, pid = int(vid_s, 16), int(pid_s, 16)
            in_ep = int(uri.param("in_ep", "0x82"), 0)
            out_ep = int(uri.param("out_ep", "0x01"), 0)
        except ValueError:
            raise DeviceError("device.unsupported_uri",
                              f"{uri.raw}: expected escpos+usb://VID:PID (hex)",
                              retryable=False) from None
        return UsbTransport(vid, pid, in_ep, out_ep, int(wt * 1000))
    raise DeviceError("device.unsupported_uri", f"{uri.scheme}: not an ESC/POS transport",
                      retryable=False)
