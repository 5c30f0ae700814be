"""A card left in the reader when the session ends: a banner and a spoken reminder
(请取走您的社保卡) until it is taken out.

The reader is polled on a worker thread (its status may talk to pcscd); results come
back to the UI thread through a queued signal, so the event loop never waits on it.
Only inserted cards are watched: a social-security card sits in a slot and is the card
citizens forget; an ID card lies on top of the reader and is picked up.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

from kiosk.devices.base import DeviceService
from kiosk.ui.workers import Relay, emit

log = logging.getLogger(__name__)

# identity source -> the reader whose card can be left behind
READERS = {"ss_card": "sscard"}


class Readers(Protocol):
    """Where the readers are looked up: the runtime's DeviceSet (or a plain dict)."""

    def get(self, kind: str, /) -> DeviceService | None: ...


class CardReminder(QObject):
    """Watches one reader after a session; `changed(source, present)` on the UI thread."""

    changed = Signal(str, bool)

    def __init__(self, devices: Readers, *, poll_s: float = 0.3,
                 timeout_s: float = 120.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.devices = devices
        self.poll_s, self.timeout_s = poll_s, timeout_s
        self._stop = threading.Event()
        self.showing = ""  # the source whose card is shown as left behind, "" if none
        # Polls report through a parentless relay (kiosk.ui.workers): a poll that ends
        # after the window closed emits on a live object, and Qt drops the delivery.
        self._relay = Relay()
        self._relay.done.connect(self._relayed, Qt.ConnectionType.QueuedConnection)
        self.changed.connect(self._remember)

    def watch(self, source: str) -> bool:
        """Start watching the reader of `source` (a session identified with it ended)."""
        device = self.devices.get(READERS.get(source, ""))
        if device is None:
            return False
        self.stop()
        stop = self._stop = threading.Event()
        threading.Thread(target=self._poll, args=(device, source, stop), daemon=True,
                         name=f"card-left-{source}").start()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _poll(self, device: DeviceService, source: str, stop: threading.Event) -> None:
        present: bool | None = None  # the first look is always reported
        waited = 0.0
        # Stopped: a newer watch takes over, or the window (and this watcher) is gone.
        while not stop.is_set() and shiboken6.isValid(self):
            try:
                now = "card_present" in device.status().details
            except Exception:
                log.warning("card reminder: %s status failed", source, exc_info=True)
                now = False
            if now != present:
                present = now
                if not self._emit(source, now):
                    return
            if not now:
                return  # taken (or never left): nothing to remind of
            if waited >= self.timeout_s:
                log.info("card reminder: a %s card is still in the reader", source)
                self._emit(source, False)  # gave up; the next citizen's reader says it too
                return
            stop.wait(self.poll_s)
            waited += self.poll_s

    def _emit(self, source: str, present: bool) -> bool:
        """False once the window (and this watcher with it) is gone: the poll stops."""
        return shiboken6.isValid(self) and emit(self._relay, source, present)

    def _relayed(self, source: str, present: object) -> None:
        self.changed.emit(source, bool(present))

    def _remember(self, source: str, present: bool) -> None:
        self.showing = source if present else ""


__all__ = ["READERS", "CardReminder"]
