"""Run `ippeveprinter` (Debian cups-ipp-utils) as the A4 printer peer.

ippeveprinter refuses to start without DNS-SD ("Unable to initialize DNS-SD")
unless D-Bus and avahi-daemon are running, even with `-r off`; `ensure_dns_sd()`
starts the ones that are missing and `stop_started()` stops only those.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SYSTEM_BUS = Path("/run/dbus/system_bus_socket")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _avahi_running() -> bool:
    res = subprocess.run(["avahi-daemon", "--check"], capture_output=True)
    return res.returncode == 0


def _bus_answers() -> bool:
    """True when something accepts connections on the system bus socket.

    A socket file alone proves nothing: after a container restart or a killed
    dbus-daemon the file stays behind and avahi-daemon then fails to start.
    """
    if not SYSTEM_BUS.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(SYSTEM_BUS))
        except OSError:
            return False
    return True


def ensure_dns_sd() -> list[int]:
    """Start the system D-Bus and avahi-daemon if needed; return the pids started.

    Raises RuntimeError naming the daemon that would not come up, with its output.
    """
    started: list[int] = []
    if not _bus_answers():
        SYSTEM_BUS.parent.mkdir(parents=True, exist_ok=True)
        for stale in (SYSTEM_BUS, SYSTEM_BUS.parent / "pid"):
            stale.unlink(missing_ok=True)
        res = subprocess.run(["dbus-daemon", "--system", "--fork", "--print-pid"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("dbus-daemon --system failed: " + (res.stderr or res.stdout))
        started.append(int(res.stdout.split()[0]))
        for _ in range(100):
            if _bus_answers():
                break
            time.sleep(0.05)
    if not _avahi_running():
        Path("/run/avahi-daemon").mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["avahi-daemon", "--daemonize", "--no-chroot", "--no-rlimits"],
                             capture_output=True, text=True)
        for _ in range(100):
            if _avahi_running():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("avahi-daemon did not start: " + (res.stderr or res.stdout))
        pid_file = Path("/run/avahi-daemon/pid")
        if pid_file.exists():
            started.append(int(pid_file.read_text().split()[0]))
    return started


def stop_started(pids: list[int]) -> None:
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class IppEvePrinter:
    """One ippeveprinter on 127.0.0.1:PORT whose engine is `ipp_print_command`."""

    def __init__(self, workdir: Path, name: str = "Kiosk A4 Test", port: int | None = None):
        self.workdir = Path(workdir)
        self.name = name
        self.port = port or free_port()
        self.control = self.workdir / "control"
        self.spool = self.workdir / "spool"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    def start(self, timeout: float = 15.0) -> IppEvePrinter:
        self.control.mkdir(parents=True, exist_ok=True)
        self.spool.mkdir(parents=True, exist_ok=True)
        wrapper = self.workdir / "engine.sh"
        wrapper.write_text(
            f"#!/bin/sh\nexec {sys.executable} -m emulators.ipp_print_command "
            f"'{self.control}' \"$1\"\n")
        wrapper.chmod(0o755)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        log = (self.workdir / "ippeveprinter.log").open("wb")
        self.proc = subprocess.Popen(
            ["ippeveprinter", "-p", str(self.port), "-r", "off",
             "-f", "application/pdf", "-d", str(self.spool), "-k", "-c", str(wrapper),
             "-m", "Kiosk Laser A4", self.name],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("ippeveprinter exited: " + self.log_text()[-500:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("ippeveprinter did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> IppEvePrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        path = self.workdir / "ippeveprinter.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- the technician's hands -----------------------------------------------------
    def arm_fault(self, fault: str) -> None:
        (self.control / "fault").write_text(fault)

    def load_paper(self) -> None:
        """Fill every tray through ippeveprinter's /media form (clears media-empty)."""
        base = f"http://127.0.0.1:{self.port}/media"
        page = urllib.request.urlopen(base, timeout=5).read().decode("utf-8", "replace")
        params = []
        for idx in sorted(set(re.findall(r'name="size(\d+)"', page))):
            def selected(field: str, default: str, page: str = page, idx: str = idx) -> str:
                block = page.split(f'name="{field}{idx}"', 1)[1].split("</select>", 1)[0]
                pattern = r'<option value="(\d+)"' if field == "level" \
                    else r"<option selected>([^<]+)</option>"
                m = re.search(pattern, block)
                return m.group(1) if m else default
            params += [f"size{idx}={selected('size', 'iso_a4_210x297mm')}",
                       f"type{idx}={selected('type', 'stationery')}",
                       f"level{idx}={selected('level', '250')}"]
        urllib.request.urlopen(f"{base}?{'&'.join(params)}", timeout=5).read()

    def printed(self) -> list[Path]:
        out = self.control / "out"
        return sorted(out.glob("job-*.pdf")) if out.exists() else []


def available() -> bool:
    return all(shutil.which(b) for b in ("ippeveprinter", "avahi-daemon", "dbus-daemon"))
