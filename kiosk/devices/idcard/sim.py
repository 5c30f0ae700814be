"""In-process resident ID card reader simulator (`sim://?card=chen&delay_ms=600`).

Scriptable for demos, training mode and tests: `place_card(key)`, `remove_card()`,
`fail_next(key)`. URI parameters: `card` (a synthetic citizen key placed at open, or
empty for none), `delay_ms` (read time), `fail` (an error key for every read).
"""

from __future__ import annotations

import threading
import time

from kiosk.devices.base import Cancelled, Device, DeviceError, DeviceState, DeviceStatus
from kiosk.devices.idcard.api import CardEvent, CardEventSink
from kiosk.identity import Identity
from synthetic.citizens import BY_KEY, identity_of


class SimIdCardReader(Device):
    kind = "idcard"
    uri_params = frozenset({"card", "delay_ms", "fail"})

    def __init__(self, uri):  # type: ignore[no-untyped-def]
        super().__init__(uri)
        self._card: str | None = None
        self._opened = False
        self._delay = uri.int_param("delay_ms", 0) / 1000.0
        self._fail_always = uri.param("fail")
        self._fail_next: str | None = None
        self._changed = threading.Condition()

    def open(self) -> None:
        self._opened = True
        card = self.uri.param("card")
        if card:
            self.place_card(card)

    def close(self) -> None:
        self._opened = False

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        details = frozenset({"card_present"}) if self._card else frozenset()
        return DeviceStatus(DeviceState.ONLINE, details)

    # -- scripting -------------------------------------------------------------
    def place_card(self, key: str) -> None:
        if key not in BY_KEY:
            raise ValueError(f"unknown synthetic card {key!r}")
        with self._changed:
            self._card = key
            self._changed.notify_all()

    def remove_card(self) -> None:
        with self._changed:
            self._card = None
            self._changed.notify_all()

    def fail_next(self, key: str) -> None:
        self._fail_next = key

    # -- service ---------------------------------------------------------------
    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        emit = on_event or (lambda _e: None)
        if not self._opened:
            raise DeviceError("device.idcard.offline", "reader not open", retryable=False)
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._card is None:
                if cancel.is_set():
                    raise Cancelled()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    emit(CardEvent.FAILED)
                    raise DeviceError("idcard.no_card", "no card within timeout")
                self._changed.wait(min(0.05, remaining))
            key = self._card
        emit(CardEvent.PRESENT)
        emit(CardEvent.READING)
        end = time.monotonic() + self._delay
        while time.monotonic() < end:
            if cancel.is_set():
                raise Cancelled()
            time.sleep(min(0.02, max(0.0, end - time.monotonic())))
        failure = self._fail_next or self._fail_always
        self._fail_next = None
        if failure:
            emit(CardEvent.FAILED)
            raise DeviceError(failure, "simulated failure")
        if self._card != key:
            emit(CardEvent.REMOVED)
            emit(CardEvent.FAILED)
            raise DeviceError("idcard.card_moved", "card removed during read")
        emit(CardEvent.READ)
        return identity_of(BY_KEY[key])
