"""A remote restart of the real `kiosk run` as systemd runs it: a notify socket standing
in for systemd, the centre's command over a real Mosquitto, the app exiting cleanly
(STOPPING=1, status 0) and, started again as `Restart=always` would, answering `done`
with both boot ids."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from command_helpers import Centre, write_key
from fleet_helpers import wait_for


class SystemdNotify:
    """systemd's side of sd_notify: a datagram socket the kiosk writes READY/STOPPING to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.seen: list[str] = []

    def wait_for(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.seen.append(msg)
            if text in msg:
                return
        raise AssertionError(f"no {text!r} from the kiosk; got {self.seen[-5:]}")

    def close(self) -> None:
        self.sock.close()


def start_kiosk(cfg: Path, notify: SystemdNotify, secret: bytes) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NOTIFY_SOCKET=str(notify.path), QT_QPA_PLATFORM="offscreen",
               KIOSK_TERMINAL_SECRET=secret.hex())
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID", "KIOSK_CONFIG"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_remote_restart_under_systemd(tmp_path: Path, mosquitto: Any, subscriber: Any,
                                        backend: Any) -> None:
    tid = backend.terminal_id
    key, pub = write_key(tmp_path / "centre")
    password = tmp_path / "fleet.password"
    password.write_text(mosquitto.provision([tid])[tid])
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(textwrap.dedent(f"""
        [terminal]
        id = "{tid}"
        [backend]
        url = "{backend.url}"
        [ui]
        fullscreen = false
        width = 1280
        height = 1024
        [storage]
        data_dir = "{tmp_path / 'data'}"
        [heartbeat]
        interval_s = 60
        [fleet]
        broker_url = "{mosquitto.setup.url}"
        password_file = "{password}"
        command_key = "{pub}"
        reconnect_min_s = 0.05
        reconnect_max_s = 0.5
        reconnect_spread_s = 0.0
    """))
    centre = Centre(mosquitto, key, subscriber())
    notify = SystemdNotify(tmp_path / "notify.sock")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_kiosk(cfg, notify, backend.secret))
        notify.wait_for("READY=1")

        # The kiosk listens for commands once its subscription is in: ask until it answers.
        wait_for(lambda: _answers_within(centre, tid, centre.send(tid, "in_service")), 60,
                 "the kiosk answers commands")
        cid = centre.send(tid, "restart")
        centre.wait(tid, cid, "running")
        notify.wait_for("STOPPING=1", 30)
        assert procs[0].wait(30) == 0  # a clean exit: systemd's Restart=always takes over
        assert centre.states(tid, cid) == ["received", "running"]
        log = (tmp_path / "data" / "logs" / "kiosk.log").read_text()
        assert f"kiosk exiting: remote restart {cid} by ops:test" in log

        procs.append(start_kiosk(cfg, notify, backend.secret))  # systemd starts it again
        notify.wait_for("READY=1")
        done = centre.wait(tid, cid, "done", timeout=60)
        boots = done["result"]["previous_boot"], done["result"]["boot"]
        assert all(boots) and boots[0] != boots[1]
        assert centre.states(tid, cid) == ["received", "running", "done"]
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        centre.close()
        notify.close()


def _answers_within(centre: Centre, tid: str, cid: str, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if centre.states(tid, cid):
            return True
        time.sleep(0.05)
    return False
