"""IPP over HTTP (transport only): POST application/ipp, with clear timeouts.

Speaks to `ipp://host:port/path` (HTTP) and, for a local CUPS scheduler, to a
Unix domain socket (`/run/cups/cups.sock`).
"""

from __future__ import annotations

import http.client
import itertools
import socket
from urllib.parse import urlsplit

from kiosk.devices.a4.ipp_protocol import (
    IppDecodeError,
    IppMessage,
    RequestGroup,
    decode_message,
    encode_request,
)
from kiosk.devices.base import DeviceError


class IppError(DeviceError):
    """The IPP server could not be reached or answered nonsense."""

    def __init__(self, detail: str, *, retryable: bool = True) -> None:
        super().__init__("device.a4.offline", detail, retryable=retryable)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class IppClient:
    _ids = itertools.count(1)

    def __init__(self, printer_uri: str, timeout: float = 10.0, socket_path: str = "") -> None:
        parts = urlsplit(printer_uri)
        if parts.scheme not in ("ipp", "ipps", "http", "https"):
            raise DeviceError("device.unsupported_uri", f"{printer_uri}: not an IPP URI",
                              retryable=False)
        self.printer_uri = printer_uri
        self.tls = parts.scheme in ("ipps", "https")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if parts.scheme == "https" else 631)
        self.path = parts.path or "/"
        self.timeout = timeout
        self.socket_path = socket_path

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.socket_path:
            return _UnixHTTPConnection(self.socket_path, timeout)
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, op: int, groups: list[RequestGroup], data: bytes = b"",
                timeout: float | None = None, path: str | None = None) -> IppMessage:
        body = encode_request(op, next(self._ids), groups, data)
        conn = self._connection(timeout or self.timeout)
        where = self.socket_path or f"{self.host}:{self.port}"
        try:
            conn.request("POST", path or self.path, body=body,
                         headers={"Content-Type": "application/ipp"})
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(f"{where}: {exc.__class__.__name__}: {exc}") from exc
        finally:
            conn.close()
        if resp.status != 200:
            raise IppError(f"{where}: HTTP {resp.status} {resp.reason}")
        try:
            return decode_message(payload)
        except IppDecodeError as exc:
            raise IppError(f"{where}: bad IPP response: {exc}") from exc
