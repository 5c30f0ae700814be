"""Run blocking work on plain threads and bring the result back to the UI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Relay(QObject):
    """Carries results from worker threads to the UI thread (connect it queued)."""

    done = Signal(str, object)


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
