"""Run blocking work on plain threads and bring the result back to the UI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Relay(QObject):
    """Carries results from worker threads to the UI thread (connect it queued).

    A relay has no Qt parent, on purpose: with the screen as its parent, Qt deleted it
    together with the screen while a worker thread was emitting on it, and the emit ran
    into freed memory (a segfault in the test suite, a dead kiosk in a hall). Owned by
    Python, it lives as long as the screen object or a worker refers to it; Qt drops the
    queued connection by itself when the receiving screen is deleted."""

    done = Signal(str, object)

    def __init__(self) -> None:
        super().__init__(None)


def emit(relay: Relay, tag: str, result: Any) -> bool:
    """Emit from a worker thread; False when the receiver is already gone (screen closed)."""
    try:
        relay.done.emit(tag, result)
        return True
    except RuntimeError:  # "Signal source has been deleted": nobody is waiting any more
        return False


def run_async(relay: Relay, tag: str, fn: Callable[[], Any]) -> threading.Thread:
    """Run `fn` on a daemon thread; its result (or exception) arrives as `relay.done`."""

    def body() -> None:
        try:
            result: Any = fn()
        except Exception as exc:  # shown to the technician, logged in full
            log.exception("background task %s failed", tag)
            result = exc
        emit(relay, tag, result)

    th = threading.Thread(target=body, daemon=True, name=f"maint-{tag}")
    th.start()
    return th
