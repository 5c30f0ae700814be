"""ippeveprinter's D-Bus/avahi peers are judged ready by asking them, not by their files.

A socket that accepts connections is not a bus (a daemon going down, a stale file taken
over); a bus without org.freedesktop.Avahi has no avahi-daemon; a run that started the
daemons leaves them running while another run holds a lease on them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators import ippeve_peer
from emulators.ippeve_peer import (
    AVAHI,
    avahi_missing,
    bus_missing,
    bus_names,
    hold_lease,
    stop_started,
    wait_until,
)


@pytest.fixture
def not_a_bus(tmp_path: Path) -> Iterator[str]:
    """A Unix socket that accepts every connection and closes it at once."""
    path = tmp_path / "bus"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"unix:path={path}"
    srv.close()


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    """A real dbus-daemon of our own (session configuration) on a socket in tmp_path."""
    if not shutil.which("dbus-daemon") or not shutil.which("dbus-send"):
        pytest.skip("dbus-daemon / dbus-send not installed")
    address = f"unix:path={tmp_path / 'private-bus'}"
    res = subprocess.run(["dbus-daemon", "--session", f"--address={address}", "--fork",
                          "--print-pid"], check=True, capture_output=True, text=True)
    pid = int(res.stdout.split()[0])
    yield address
    os.kill(pid, signal.SIGTERM)


def test_a_socket_that_accepts_is_not_a_bus(not_a_bus: str) -> None:
    assert bus_names(not_a_bus) is None
    assert bus_missing(not_a_bus) == f"no answer to ListNames on {not_a_bus}"


def test_a_bus_answers_and_without_avahi_says_so(private_bus: str) -> None:
    names = bus_names(private_bus)
    assert names is not None and "org.freedesktop.DBus" in names
    assert bus_missing(private_bus) == ""
    assert avahi_missing(private_bus) == f"{AVAHI} is not on the system bus"


def test_what_did_not_come_up_is_named(not_a_bus: str) -> None:
    with pytest.raises(RuntimeError) as exc:
        wait_until("avahi-daemon", lambda: avahi_missing(not_a_bus), 0.2,
                   output="Daemon already running on PID 4242")
    assert str(exc.value) == (f"avahi-daemon did not come up within 0.2 s: the system bus "
                              f"({not_a_bus}) does not answer; its output: Daemon already "
                              f"running on PID 4242")


def test_the_services_ippeveprinter_needs_answer(dns_sd: None) -> None:
    assert bus_missing() == "" and avahi_missing() == ""


LEASE_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_SH)
print("HOLDING", flush=True)
sys.stdin.read()
"""


def test_daemons_are_stopped_only_when_no_other_run_uses_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ippeve_peer, "USERS_LOCK", tmp_path / "users")
    daemon = subprocess.Popen(["sleep", "60"])  # stands for a daemon this run started
    other = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER, str(tmp_path / "users")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "HOLDING"
        assert stop_started([daemon.pid], lease=hold_lease()) is False
        assert daemon.poll() is None  # the other run still needs it
        other.communicate("")  # the other run ends
        assert stop_started([daemon.pid], lease=hold_lease()) is True
        assert daemon.wait(10) == -signal.SIGTERM
    finally:
        for proc in (daemon, other):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
