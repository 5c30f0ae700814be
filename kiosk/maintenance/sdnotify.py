"""systemd's notify protocol, spoken directly: datagrams to $NOTIFY_SOCKET.

`READY=1` once the kiosk shows its first screen, `WATCHDOG=1` from a timer on the Qt
event loop (so a frozen UI stops the keep-alives and systemd restarts the service),
`STOPPING=1` before a planned exit, `STATUS=…` for `systemctl status`. Without
$NOTIFY_SOCKET (not started by systemd) every call is a no-op returning False.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 0.5


def _address(raw: str) -> str | None:
    if raw.startswith("@"):
        return "\0" + raw[1:]  # abstract namespace socket
    if raw.startswith("/"):
        return raw
    return None  # vsock and others: not used on a terminal


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """How often to send WATCHDOG=1: half of $WATCHDOG_USEC, or None when not asked.

    $WATCHDOG_PID names the process systemd expects keep-alives from; under a kiosk
    compositor (`cage -- kiosk run`) that is our parent, which is accepted too.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid.isdigit() and int(pid) not in (os.getpid(), os.getppid()):
        return None
    return usec / 1e6 / 2


class Notifier:
    """One datagram socket kept open; thread-safe; silent when systemd is not listening."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        self.sent = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str, wait: bool = True) -> bool:
        """Send one datagram. The socket's queue may be full (systemd busy): then wait at
        most SEND_TIMEOUT_S, or with `wait=False` (keep-alives from the UI thread) not at
        all; a missed keep-alive is harmless, a blocked event loop is not."""
        if self.address is None:
            return False
        data = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX,
                                               socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.settimeout(SEND_TIMEOUT_S if wait else 0.0)
                self._sock.sendto(data, self.address)
                self.sent += 1
                return True
            except (BlockingIOError, TimeoutError):
                self.dropped += 1  # the queue is full: try again next time
                return False
            except OSError as exc:
                if not self._warned:
                    log.warning("sd_notify to %r failed: %s", self.address, exc)
                    self._warned = True
                self._close_locked()
                return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1", wait=False)

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()
