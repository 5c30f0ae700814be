"""Fixtures for maintenance, heartbeat and 24/7 tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


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


PIN = "48151623"


@pytest.fixture
def kiosk_windows(qtbot: Any) -> Iterator[Callable[..., Any]]:
    """`open(cfg, size, recorder=None, backend=False)`: a kiosk window on `cfg` with the
    technician PIN set, shown and exposed; its runtime is closed when the test ends."""
    from kiosk.maintenance.pin import PinStore
    from kiosk.runtime import Runtime
    from kiosk.ui.app import build_window

    made: list[Any] = []

    def open_window(cfg: Any, size: Any, recorder: Any = None, backend: bool = False) -> Any:
        PinStore(cfg.data_dir / "maintenance").set_pin(PIN)
        rt = Runtime.create(cfg)
        rt.open_devices()
        if recorder is not None:
            rt.record = recorder  # type: ignore[method-assign]  # what would reach the outbox
        if backend:
            rt.start_backend(wait=True)
        made.append(rt)
        win = build_window(rt, size)
        qtbot.addWidget(win)
        win.resize(size)
        win.show()
        qtbot.waitExposed(win)
        return win

    yield open_window
    for rt in made:
        rt.close()
