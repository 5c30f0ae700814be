"""The Qt side of the `Interaction` port and the worker thread that runs a flow.

The flow engine runs on a plain Python thread. `show()` is called on that thread; it
emits a queued signal so the UI thread draws the screen, and the flow thread waits
on the returned `Pending`. The UI thread never waits on the flow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from kiosk.flows.context import FlowResult
from kiosk.flows.interaction import Pending
from kiosk.flows.screens import Response, Screen

log = logging.getLogger(__name__)


class QtInteraction(QObject):
    screenRequested = Signal(object)  # Pending
    flowFinished = Signal(object, object)  # Session, FlowResult

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._current: Pending | None = None
        self._cancel = threading.Event()

    def bind_session(self, cancel: threading.Event) -> None:
        self._cancel = cancel

    def show(self, screen: Screen) -> Pending:
        pending = Pending(screen, self._cancel)
        with self._lock:
            previous, self._current = self._current, pending
        if previous is not None and not previous.event.is_set():
            previous.resolve(Response("__replaced__"))
        self.screenRequested.emit(pending)
        return pending

    @Slot(object)
    def respond(self, pending: Pending, response: Response) -> None:
        """Called on the UI thread when the citizen answers the screen `pending`."""
        with self._lock:
            if pending is not self._current:
                return  # a stale button press on a screen already replaced
        pending.resolve(response)

    def cancel_all(self) -> None:
        with self._lock:
            current = self._current
            self._current = None
        if current is not None:
            current.resolve(None)


class FlowThread(threading.Thread):
    """Runs one flow for one session, then reports the result through a queued signal."""

    def __init__(self, flow_id: str, session: object, run: Callable[[], FlowResult],
                 bridge: QtInteraction) -> None:
        super().__init__(daemon=True, name=f"flow-{flow_id}")
        self.flow_id = flow_id
        self.session = session
        self._run = run
        self._bridge = bridge

    def run(self) -> None:
        try:
            result = self._run()
        except Exception:  # never leave the UI waiting for a flow that died
            log.exception("flow thread crashed")
            result = FlowResult("failed", "error.app")
        self._bridge.flowFinished.emit(self.session, result)


def connect_queued(signal: SignalInstance, slot: Callable[..., object]) -> None:
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)
