"""Run `ippeveprinter` (Debian cups-ipp-utils) as the A4 printer peer.

ippeveprinter refuses to start ("Unable to initialize DNS-SD") when it cannot reach the
system D-Bus, even with `-r off`; it also needs avahi-daemon not to vanish under it.
`ensure_dns_sd()` starts the ones that are missing and waits until each ANSWERS: the bus
a ListNames call, avahi-daemon by being on the bus (`org.freedesktop.Avahi`) and
answering GetState. A socket or pid file proves nothing: a stale one outlives its daemon,
and a daemon going down still has both for a moment.

Several test runs share one machine's daemons. A run holds a shared lease
(`hold_lease()`) while it uses them, and `stop_started()` stops what this process
started only when no other run holds one; checking and starting happen under one lock,
so two runs never both clear the bus socket and start a bus each. Should the services
go away anyway (a run of an older checkout, a crash), `IppEvePrinter.start()` brings
them back before it starts the printer.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

SYSTEM_BUS = Path("/run/dbus/system_bus_socket")
SYSTEM_BUS_ADDRESS = f"unix:path={SYSTEM_BUS}"
AVAHI = "org.freedesktop.Avahi"
# org.freedesktop.Avahi.Server.GetState; 1-3 mean the server is up and serving clients.
AVAHI_STATES = {0: "invalid", 1: "registering", 2: "running", 3: "collision", 4: "failure"}
READY_TIMEOUT = 20.0
LOCKS = Path(tempfile.gettempdir())
START_LOCK = LOCKS / "kiosk-dns-sd.lock"  # check-and-start, one run at a time
USERS_LOCK = LOCKS / "kiosk-dns-sd.users"  # shared by every run using the daemons
_started: list[int] = []  # daemons this process started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- asking the services -------------------------------------------------------------

def _call(address: str, dest: str, path: str, method: str, *args: str,
          timeout: float = 2.0) -> str | None:
    """One D-Bus method call; the reply as dbus-send prints it, None if none came."""
    cmd = ["dbus-send", f"--bus={address}", f"--dest={dest}", "--type=method_call",
           "--print-reply", f"--reply-timeout={int(timeout * 1000)}", path, method, *args]
    try:
        res = subprocess.run(cmd, check=False, capture_output=True, text=True,
                             timeout=timeout + 3)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


def bus_names(address: str = SYSTEM_BUS_ADDRESS) -> list[str] | None:
    """The names on the bus, as the bus itself lists them; None if it does not answer."""
    out = _call(address, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames")
    return None if out is None else re.findall(r'string "([^"]*)"', out)


def avahi_state(address: str = SYSTEM_BUS_ADDRESS) -> int | None:
    """avahi-daemon's server state, asked over the bus; None if it does not answer."""
    out = _call(address, AVAHI, "/", "org.freedesktop.Avahi.Server.GetState")
    found = re.search(r"int32 (-?\d+)", out or "")
    return int(found.group(1)) if found else None


def name_owner_pid(name: str, address: str = SYSTEM_BUS_ADDRESS) -> int | None:
    out = _call(address, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID", f"string:{name}")
    found = re.search(r"uint32 (\d+)", out or "")
    return int(found.group(1)) if found else None


def bus_missing(address: str = SYSTEM_BUS_ADDRESS) -> str:
    """"" when the bus answers, else what is wrong."""
    return "" if bus_names(address) is not None else f"no answer to ListNames on {address}"


def avahi_missing(address: str = SYSTEM_BUS_ADDRESS) -> str:
    """"" when avahi-daemon is on the bus and serving, else what is wrong."""
    names = bus_names(address)
    if names is None:
        return f"the system bus ({address}) does not answer"
    if AVAHI not in names:
        return f"{AVAHI} is not on the system bus"
    state = avahi_state(address)
    if state not in (1, 2, 3):
        return f"{AVAHI} answers GetState with {AVAHI_STATES.get(state, state)}"  # type: ignore[arg-type]
    return ""


def wait_until(what: str, missing: Callable[[], str], timeout: float,
               output: str = "") -> None:
    """Poll `missing()` until it returns ""; raise RuntimeError naming `what` and the
    last thing missing (and the daemon's own output) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        why = missing()
        if not why:
            return
        if time.monotonic() >= deadline:
            tail = f"; its output: {output.strip()[-500:]}" if output.strip() else ""
            raise RuntimeError(f"{what} did not come up within {timeout:g} s: {why}{tail}")
        time.sleep(0.1)


# -- starting and stopping ---------------------------------------------------------------

@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def hold_lease() -> int:
    """Say "this run uses D-Bus/avahi" until `stop_started(lease=...)`; returns the fd."""
    fd = os.open(USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _start_dbus(timeout: float) -> int:
    SYSTEM_BUS.parent.mkdir(parents=True, exist_ok=True)
    for stale in (SYSTEM_BUS, SYSTEM_BUS.parent / "pid"):
        stale.unlink(missing_ok=True)  # nobody answers on it (checked under the lock)
    res = subprocess.run(["dbus-daemon", "--system", "--fork", "--print-pid"],
                         check=False, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("dbus-daemon --system failed: " + (res.stderr or res.stdout))
    pid = int(res.stdout.split()[0])
    wait_until(f"the D-Bus system bus (dbus-daemon pid {pid})", bus_missing, timeout,
               res.stderr)
    return pid


def _start_avahi(timeout: float) -> int | None:
    Path("/run/avahi-daemon").mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["avahi-daemon", "--daemonize", "--no-chroot", "--no-rlimits"],
                         check=False, capture_output=True, text=True)
    wait_until("avahi-daemon", avahi_missing, timeout, res.stderr or res.stdout)
    return name_owner_pid(AVAHI) if res.returncode == 0 else None


def ensure_dns_sd(timeout: float = READY_TIMEOUT) -> list[int]:
    """Start the system D-Bus and avahi-daemon if they do not answer; return the pids
    started. Raises RuntimeError naming what did not come up (and its output)."""
    started: list[int] = []
    with _locked(START_LOCK):
        if bus_missing():
            started.append(_start_dbus(timeout))
        if avahi_missing():
            pid = _start_avahi(timeout)
            if pid is not None:
                started.append(pid)
    _started.extend(started)
    return started


def stop_started(pids: list[int] | None = None, lease: int | None = None) -> bool:
    """Stop the daemons this process started (or `pids`), unless another run still holds
    a lease on them; True if they were stopped. Releases `lease`."""
    pids = list(_started) if pids is None else pids
    try:
        if lease is not None:
            try:
                fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another run uses them: it will stop them, or leave them
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if pid in _started:
                _started.remove(pid)
        return True
    finally:
        if lease is not None:
            os.close(lease)


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
        ensure_dns_sd()  # two D-Bus calls when all is well; restarts what another run stopped
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
                why = bus_missing() or avahi_missing() or "D-Bus and avahi-daemon answer"
                raise RuntimeError(f"ippeveprinter exited ({why}): {self.log_text()[-500:]}")
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

    def __enter__(self) -> Self:
        self.start()
        return self

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
