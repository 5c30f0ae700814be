"""Fixtures for maintenance, heartbeat and 24/7 tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.backend.embedded import free_port


class Recorder:
    """Collects what `runtime.record(stream, payload)` would send."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, stream: str, payload: dict[str, Any]) -> None:
        self.items.append((stream, dict(payload)))

    def events(self) -> list[str]:
        return [p["event"] for s, p in self.items if s == "audit"]

    def last(self, event: str) -> dict[str, Any]:
        return [p for s, p in self.items if s == "audit" and p["event"] == event][-1]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def kiosk_config(tmp_path: Path) -> Any:
    """A config on simulated devices, data in tmp_path, prints spooled to tmp_path."""
    from kiosk.config import Config

    cfg = Config().with_section(
        "devices", idcard="sim://", sscard="sim://", a4=f"sim://?spool={tmp_path / 'a4'}",
        receipt=f"sim://?spool={tmp_path / 'receipt'}")
    return cfg.with_section("storage", data_dir=str(tmp_path / "data"))


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def recv(self, timeout: float) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except TimeoutError:
            return None

    def drain(self) -> list[str]:
        out = []
        while (msg := self.recv(0.001)) is not None:
            out.append(msg)
        return out

    def wait_for(self, text: str, timeout: float) -> list[str]:
        """Messages until one contains `text` (or the timeout: then fails)."""
        seen: list[str] = []
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            seen.append(msg)
            if text in msg:
                return seen
        raise AssertionError(f"no {text!r} on the notify socket; got {seen}")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    ns = NotifySocket(tmp_path / "notify.sock")
    try:
        yield ns
    finally:
        ns.sock.close()


class FleetBackend:
    def __init__(self, terminals: dict[str, bytes], proc: subprocess.Popen[bytes], url: str):
        self.terminals, self.proc, self.url = terminals, proc, url

    def client(self, tid: str) -> Any:
        from kiosk.backend.client import BackendClient

        return BackendClient(self.url, tid, self.terminals[tid])


@pytest.fixture
def fleet_backend() -> Iterator[FleetBackend]:
    """A reference backend with three terminals of one fleet, over HTTP on 127.0.0.1."""
    import requests

    terminals = {f"DG-FLEET-{i:04d}": secrets.token_bytes(32) for i in (1, 2, 3)}
    port = free_port()
    env = dict(os.environ, REFBACKEND_TERMINALS=",".join(f"{t}:{s.hex()}"
                                                         for t, s in terminals.items()))
    env.pop("REFBACKEND_FLEET_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "reference_backend", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:] if proc.stderr else "died")
        try:
            if requests.get(url + "/health", timeout=0.5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.05)
    try:
        yield FleetBackend(terminals, proc, url)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll a condition (no timed assertion: the timeout only bounds a hang)."""
    import time

    def wait(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.02)
        raise AssertionError(f"condition not met: {what or cond}")

    return wait
