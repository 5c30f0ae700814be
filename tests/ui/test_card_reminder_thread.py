"""The card reminder's reader poll reports on the UI thread and stops with its window."""

from __future__ import annotations

import threading
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QWidget

from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.ui.card_reminder import CardReminder


class Slot:
    """A reader whose card stays in the slot; counts the polls."""

    def __init__(self) -> None:
        self.polls = 0
        self.threads: set[str] = set()

    def status(self) -> DeviceStatus:
        self.polls += 1
        self.threads.add(threading.current_thread().name)
        return DeviceStatus(DeviceState.ONLINE, frozenset({"card_present"}))


def test_the_poll_reports_on_the_ui_thread_and_stops_when_the_window_is_gone(qtbot: Any) -> None:
    window = QWidget()
    reader = Slot()
    readers: dict[str, Any] = {"sscard": reader}
    reminder = CardReminder(readers, poll_s=0.02, timeout_s=30, parent=window)
    seen: list[tuple[str, bool, str]] = []
    reminder.changed.connect(lambda s, p: seen.append((s, p, threading.current_thread().name)))
    assert reminder.watch("ss_card")
    qtbot.waitUntil(lambda: seen != [], timeout=5000)
    assert seen[0] == ("ss_card", True, threading.main_thread().name)
    assert reminder.showing == "ss_card"
    assert reader.threads == {"card-left-ss_card"}  # the reader is never asked on the UI thread
    window.deleteLater()  # the kiosk window closes with the card still in the slot
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(window)
    qtbot.wait(200)
    settled = reader.polls
    qtbot.wait(200)
    # No more reader polls than one already under way: the watcher stopped with its window.
    assert reader.polls <= settled + 1
