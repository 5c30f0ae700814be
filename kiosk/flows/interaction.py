"""How a step talks to the person at the terminal, without knowing about widgets.

`show()` displays a screen and returns a `Pending` that completes when the person
answers (or the session is cancelled). `ask()` is show-and-wait. The Qt UI
implements this with signals; tests and the headless bench use `ScriptedInteraction`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from kiosk.flows.screens import Response, Screen


class FlowCancelled(Exception):
    """The session ended (idle timeout, wipe) while a step was waiting."""


class Pending:
    """A screen on display, waiting for a response."""

    def __init__(self, screen: Screen, session_cancel: threading.Event) -> None:
        self.screen = screen
        self.event = threading.Event()
        self.response: Response | None = None
        self._session_cancel = session_cancel

    def resolve(self, response: Response | None) -> None:
        if not self.event.is_set():
            self.response = response
            self.event.set()

    def answered(self, cancel: threading.Event) -> Response | None:
        """The answer if there is one yet, None while the screen is still up; raises
        FlowCancelled once the session ended. For steps that watch workers and the
        screen at once (card readers, the camera) instead of blocking in `wait`."""
        if cancel.is_set() or (self.event.is_set() and self.response is None):
            raise FlowCancelled()
        return self.response if self.event.is_set() else None

    def wait(self, timeout: float | None = None) -> Response:
        """Wait for the response; raise FlowCancelled if the session ends first."""
        step = 0.05
        waited = 0.0
        while not self.event.wait(step):
            if self._session_cancel.is_set():
                self.resolve(None)
                break
            waited += step
            if timeout is not None and waited >= timeout:
                raise TimeoutError("no response")
        if self.response is None or self._session_cancel.is_set():
            raise FlowCancelled()
        return self.response


class Interaction(Protocol):
    def show(self, screen: Screen) -> Pending: ...


def ask(ui: Interaction, screen: Screen, timeout: float | None = None) -> Response:
    return ui.show(screen).wait(timeout)


class ScriptedInteraction:
    """Answers screens from a function: used by the bench and by engine tests."""

    def __init__(self, session_cancel: threading.Event,
                 answer: Callable[[Screen], Response | None]) -> None:
        self._cancel = session_cancel
        self._answer = answer
        self.screens: list[Screen] = []

    def show(self, screen: Screen) -> Pending:
        self.screens.append(screen)
        pending = Pending(screen, self._cancel)
        response = self._answer(screen)
        if response is not None:
            pending.resolve(response)
        return pending
