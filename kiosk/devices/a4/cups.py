"""A4 printer through a CUPS queue (`cups://QUEUE?server=HOST:PORT`).

The job is submitted with `lp` (the ordinary CUPS client, so the terminal's CUPS
configuration, filters and driver apply) and then followed over IPP on the CUPS
scheduler itself (`ipp://SERVER/printers/QUEUE`, Get-Job-Attributes), which
reports completed / aborted / canceled and the queue's printer-state-reasons.
`server` defaults to $CUPS_SERVER, else the local scheduler's socket or
localhost:631.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.devices.a4.ipp import IppA4Printer
from kiosk.devices.a4.ipp_client import IppClient
from kiosk.devices.base import DeviceError, DeviceUri

_REQUEST_ID = re.compile(r"request id is (\S+)-(\d+)")
DEFAULT_SOCKET = "/run/cups/cups.sock"


class CupsA4Printer(IppA4Printer):
    uri_params = IppA4Printer.uri_params | {"server"}
    def __init__(self, uri: DeviceUri) -> None:
        self.queue = urlsplit(uri.raw).netloc or uri.path.strip("/")
        if not self.queue or not re.fullmatch(r"[\w.@-]+", self.queue):
            raise DeviceError("device.unsupported_uri", f"{uri.raw}: expected cups://QUEUE",
                              retryable=False)
        self.server = uri.param("server") or os.environ.get("CUPS_SERVER", "") or (
            DEFAULT_SOCKET if Path(DEFAULT_SOCKET).exists() else "localhost:631")
        super().__init__(uri)
        self.user = uri.param("user", "") or getpass.getuser()

    def _make_client(self, uri: DeviceUri) -> IppClient:
        if self.server.startswith("/"):
            return IppClient(f"ipp://localhost/printers/{self.queue}", self.http_timeout,
                             socket_path=self.server)
        return IppClient(f"ipp://{self.server}/printers/{self.queue}", self.http_timeout)

    def _submit(self, pdf: bytes, title: str, timeout: float) -> int:
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            cmd = ["lp", "-h", self.server, "-d", self.queue, "-t", title[:255] or "kiosk",
                   "-o", "document-format=application/pdf", "--", f.name]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                     timeout=max(self.http_timeout, min(timeout, 60.0)),
                                     env={**os.environ, "LANG": "C"})
            except FileNotFoundError:
                raise DeviceError("device.a4.offline", "lp is not installed (cups-client)",
                                  retryable=False) from None
            except subprocess.TimeoutExpired:
                raise DeviceError("device.a4.offline", f"lp did not answer in time "
                                  f"({self.server})") from None
        m = _REQUEST_ID.search(res.stdout)
        if res.returncode != 0 or not m:
            raise DeviceError("device.a4.offline",
                              f"lp failed ({res.returncode}): {res.stderr.strip()[:200]}")
        return int(m.group(2))
