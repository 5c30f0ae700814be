"""Printer peers: ESC/POS emulators (TCP 9100, pty), ippeveprinter, a private cupsd."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.escpos_listener import EscposListener
from emulators.escpos_serial import EscposSerialEmulator
from emulators.ippeve_peer import IppEvePrinter, free_port


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[EscposListener]:
    with EscposListener(out=tmp_path / "receipts") as lst:
        yield lst


@pytest.fixture
def serial_printer(tmp_path: Path) -> Iterator[EscposSerialEmulator]:
    with EscposSerialEmulator(out=tmp_path / "receipts") as emu:
        yield emu



@pytest.fixture
def ipp_printer(dns_sd: None, tmp_path: Path) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path / "ippeve") as printer:
        yield printer


CUPSD_CONF = """Listen 127.0.0.1:{port}
LogLevel warn
WebInterface No
Browsing Off
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
"""
CUPS_FILES = """ServerRoot {root}
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
User lp
Group lp
"""


@pytest.fixture
def cupsd(tmp_path: Path) -> Iterator[str]:
    """A private CUPS scheduler on 127.0.0.1:PORT (the system one is never touched)."""
    if not shutil.which("cupsd") or not shutil.which("lpadmin"):
        pytest.skip("cups-daemon / cups-client not installed")
    # Not under pytest's 0700 tmp: the ipp backend runs as `lp` and must read the spool.
    root = Path(tempfile.mkdtemp(prefix="kiosk-cups-"))
    for sub in ("spool", "cache", "state", "log", "tmp"):
        (root / sub).mkdir(parents=True)
        shutil.chown(root / sub, "lp", "lp")
    (root / "tmp").chmod(0o1777)
    root.chmod(0o755)
    port = free_port()
    (root / "cupsd.conf").write_text(CUPSD_CONF.format(port=port))
    (root / "cups-files.conf").write_text(CUPS_FILES.format(root=root))
    proc = subprocess.Popen(["cupsd", "-f", "-c", str(root / "cupsd.conf"),
                             "-s", str(root / "cups-files.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            if subprocess.run(["lpstat", "-h", server, "-r"], capture_output=True,
                              text=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("private cupsd did not start")
        yield server
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
