"""sd_notify over a real datagram socket; the watchdog on the Qt event loop; the unit file."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from kiosk.maintenance.sdnotify import Notifier, watchdog_interval_s

REPO = Path(__file__).resolve().parents[2]


def test_ready_watchdog_stopping_status(notify_socket) -> None:  # type: ignore[no-untyped-def]
    n = Notifier({"NOTIFY_SOCKET": str(notify_socket.path)})
    assert n.enabled
    assert n.ready("serving") and n.watchdog() and n.status("3 faults") and n.stopping("bye")
    assert notify_socket.drain() == ["READY=1\nSTATUS=serving", "WATCHDOG=1", "STATUS=3 faults",
                                     "STOPPING=1\nSTATUS=bye"]
    assert n.sent == 4
    n.close()


def test_abstract_namespace_socket() -> None:
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(5)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert s.recv(100) == b"WATCHDOG=1"


def test_without_systemd_everything_is_a_quiet_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and not n.ready() and not n.watchdog()
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_a_full_queue_never_blocks_a_keep_alive(notify_socket) -> None:  # type: ignore[no-untyped-def]
    """Nobody reads the socket (systemd busy): keep-alives are dropped, not waited for."""
    n = Notifier({"NOTIFY_SOCKET": str(notify_socket.path)})
    results = [n.watchdog() for _ in range(2000)]
    assert results[0] and not results[-1] and n.dropped > 0
    assert len(notify_socket.drain()) == n.sent


def test_vanished_socket_is_reported_not_raised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.watchdog() is False and n.watchdog() is False


@pytest.mark.parametrize("env,expected", [
    ({}, None), ({"WATCHDOG_USEC": "0"}, None), ({"WATCHDOG_USEC": "junk"}, None),
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getppid())}, 15.0),  # under cage
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for someone else
])
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    if env.get("WATCHDOG_PID") == "1" and os.getppid() == 1:
        pytest.skip("our parent is pid 1")
    assert watchdog_interval_s(env) == expected


def test_qt_timer_sends_keep_alives(qtbot, notify_socket) -> None:  # type: ignore[no-untyped-def]
    from kiosk.ui.operations import SystemdWatchdog

    wd = SystemdWatchdog(env={"NOTIFY_SOCKET": str(notify_socket.path),
                              "WATCHDOG_USEC": "300000"})
    assert wd.timer.isActive() and wd.timer.interval() == 150
    wd.ready()
    assert notify_socket.recv(5) == "READY=1\nSTATUS=serving citizens"
    qtbot.waitUntil(lambda: wd.pings >= 4, timeout=10_000)
    msgs = notify_socket.drain()
    assert msgs.count("WATCHDOG=1") >= 4 and set(msgs) == {"WATCHDOG=1"}
    wd.stopping("test over")
    assert not wd.timer.isActive()


FREEZER = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from kiosk.ui.operations import SystemdWatchdog
    app = QApplication([])
    wd = SystemdWatchdog()
    wd.ready()
    def freeze():
        wd.notifier.send("X-TEST=frozen")
        time.sleep(1.0)          # the UI thread is stuck: no timer can fire
        wd.notifier.send("X-TEST=thawed")
        QTimer.singleShot(500, app.quit)
    QTimer.singleShot(500, freeze)
    app.exec()
""")


def test_a_frozen_event_loop_stops_the_keep_alives(notify_socket) -> None:  # type: ignore[no-untyped-def]
    """Markers sent by the child around a 1 s freeze of its UI thread: no keep-alive in
    between (with a 100 ms interval), keep-alives before and again after."""
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="200000",
               PYTHONPATH=str(REPO))
    env.pop("WATCHDOG_PID", None)
    msgs: list[str] = []
    done = threading.Event()

    def read() -> None:  # like systemd: always reading, so the queue never fills
        while not done.is_set():
            msg = notify_socket.recv(0.05)
            if msg is not None:
                msgs.append(msg)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        out = subprocess.run([sys.executable, "-c", FREEZER], env=env, timeout=60)
    finally:
        done.set()
        reader.join()
    assert out.returncode == 0
    msgs += notify_socket.drain()
    frozen, thawed = msgs.index("X-TEST=frozen"), msgs.index("X-TEST=thawed")
    assert msgs[0].startswith("READY=1")
    assert "WATCHDOG=1" in msgs[1:frozen]
    assert msgs[frozen + 1:thawed] == []
    assert "WATCHDOG=1" in msgs[thawed + 1:]


def test_kiosk_run_notifies_ready_pings_and_stops_on_sigterm(tmp_path, notify_socket) -> None:  # type: ignore[no-untyped-def]
    """`kiosk run` as systemd starts it: READY once the first screen is up, WATCHDOG=1
    from the event loop, and on SIGTERM a clean STOPPING=1 and exit status 0."""
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(textwrap.dedent(f"""
        [backend]
        url = "embedded"
        [ui]
        fullscreen = false
        width = 1280
        height = 1024
        [storage]
        data_dir = "{tmp_path / 'data'}"
        [heartbeat]
        interval_s = 0
    """))
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="400000",
               QT_QPA_PLATFORM="offscreen")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen = notify_socket.wait_for("READY=1", 90)
        assert all(m == "WATCHDOG=1" for m in seen[:-1])
        notify_socket.wait_for("WATCHDOG=1", 30)
        notify_socket.wait_for("WATCHDOG=1", 30)
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING=1", 30)
        assert proc.wait(30) == 0
        log = (tmp_path / "data" / "logs" / "kiosk.log").read_text()
        assert "kiosk exiting: signal" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment, method-assign]
    cp.read(REPO / "deploy" / "systemd" / "guanjia-kiosk.service")
    return cp


def test_unit_file_contract() -> None:
    svc = _unit()["Service"]
    assert svc["Type"] == "notify" and svc["Restart"] == "always"
    assert int(svc["WatchdogSec"]) >= 10 and svc["NotifyAccess"] == "all"
    assert "kiosk run" in svc["ExecStart"]
    assert "MALLOC_ARENA_MAX=2" in _unit().get("Service", "Environment", fallback="") or \
        "MALLOC_ARENA_MAX=2" in (REPO / "deploy" / "systemd" / "guanjia-kiosk.service").read_text()
    assert _unit()["Unit"]["StartLimitIntervalSec"] == "0"
    assert _unit()["Install"]["WantedBy"] == "graphical.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_unit_file_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (REPO / "deploy" / "systemd" / "guanjia-kiosk.service").read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    unit = tmp_path / "guanjia-kiosk.service"
    unit.write_text(text.replace(exec_line, f"ExecStart={shutil.which('true')}"))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr
