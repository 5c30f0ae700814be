"""A worker that finishes after its screen was closed must not touch freed memory."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget

from kiosk.ui.workers import Relay, emit


class Screen(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.relay = Relay()
        self.relay.done.connect(self.got, Qt.ConnectionType.QueuedConnection)
        self.seen: list[str] = []

    def got(self, tag: str, _result: object) -> None:
        self.seen.append(tag)


def test_a_relay_outlives_its_closed_screen_and_delivers_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    screen = Screen()
    relay = screen.relay  # what a worker thread holds on to
    screen.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(screen)
    # The relay lives on: a late emit from a worker is safe (a relay parented to the
    # screen was freed with it, and an emit racing that free crashed the process).
    assert shiboken6.isValid(relay)
    done = threading.Event()
    results: list[bool] = []

    def late() -> None:
        results.append(emit(relay, "late", 1))
        done.set()

    threading.Thread(target=late).start()
    assert done.wait(5)
    assert results == [True]
    qtbot.wait(50)  # a queued delivery would arrive now; the receiver is gone, none does


def test_a_live_screen_gets_its_results_on_the_ui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    screen = Screen()
    qtbot.addWidget(screen)
    threading.Thread(target=lambda: emit(screen.relay, "page", 1)).start()
    qtbot.waitUntil(lambda: screen.seen == ["page"], timeout=5000)
    assert isinstance(screen.relay, QObject) and screen.relay.parent() is None
