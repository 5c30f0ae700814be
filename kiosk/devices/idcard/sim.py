"""In-process resident ID card reader simulator (`sim://?card=chen&delay_ms=600`).

Scriptable for demos, training mode and tests: `place_card(key)`, `remove_card()`,
`fail_next(key)`, `unplug()`, `replug()`. URI parameters: `card` (a synthetic citizen
key placed at open, or empty for none), `delay_ms` (read time), `fail` (an error key
for every read). A card key that names no synthetic citizen is refused when the device
is created (`device.unknown_card`, with the keys that exist), like an unknown parameter.
"""

from __future__ import annotations

import threading
import time

from kiosk.devices.base import Cancelled, Device, DeviceError, DeviceState, DeviceStatus
from kiosk.devices.idcard.api import CardEvent, CardEventSink
from kiosk.identity import Identity
from synthetic.citizens import BY_KEY, identity_of

UNKNOWN_CARD = "device.unknown_card"


class UnknownCard(DeviceError, ValueError):
    """No synthetic citizen has this key (a ValueError too, for scripts that expect one)."""

    def __init__(self, key: str) -> None:
        self.card = key
        super().__init__(UNKNOWN_CARD, f"unknown synthetic card {key!r}; synthetic cards: "
                         f"{', '.join(card_keys())}", retryable=False)


def card_keys() -> tuple[str, ...]:
    """The synthetic cards a simulated reader can be given."""
    return tuple(BY_KEY)


class SimIdCardReader(Device):
    kind = "idcard"
    uri_params = frozenset({"card", "delay_ms", "fail"})

    def __init__(self, uri):  # type: ignore[no-untyped-def]
        super().__init__(uri)
        card = uri.param("card")
        if card and card not in BY_KEY:
            raise UnknownCard(card)  # a typo in the config: say so before anything opens
        self._card: str | None = None
        self._opened = False
        self._plugged = True
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
        if not self._plugged:
            return DeviceStatus(DeviceState.NO_DEVICE, message="unplugged")
        details = frozenset({"card_present"}) if self._card else frozenset()
        return DeviceStatus(DeviceState.ONLINE, details)

    # -- scripting -------------------------------------------------------------
    @property
    def card(self) -> str | None:
        """The key of the synthetic card on the reader (None: no card)."""
        return self._card

    @property
    def plugged(self) -> bool:
        return self._plugged

    def place_card(self, key: str) -> None:
        if key not in BY_KEY:
            raise UnknownCard(key)
        with self._changed:
            self._card = key
            self._changed.notify_all()

    def remove_card(self) -> None:
        with self._changed:
            self._card = None
            self._changed.notify_all()

    def fail_next(self, key: str) -> None:
        self._fail_next = key

    def unplug(self) -> None:
        """As if the reader's cable were pulled: status no_device, reads fail."""
        with self._changed:
            self._plugged = False
            self._changed.notify_all()

    def replug(self) -> None:
        with self._changed:
            self._plugged = True
            self._changed.notify_all()

    def _offline(self) -> DeviceError:
        return DeviceError(f"device.{self.kind}.offline", "reader unplugged (simulated)")

    # -- service ---------------------------------------------------------------
    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        emit = on_event or (lambda _e: None)
        if not self._opened:
            raise DeviceError("device.idcard.offline", "reader not open", retryable=False)
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._card is None or not self._plugged:
                if not self._plugged:
                    emit(CardEvent.FAILED)
                    raise self._offline()
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
        if not self._plugged:
            emit(CardEvent.FAILED)
            raise self._offline()
        if failure:
            emit(CardEvent.FAILED)
            raise DeviceError(failure, "simulated failure")
        if self._card != key:
            emit(CardEvent.REMOVED)
            emit(CardEvent.FAILED)
            raise DeviceError("idcard.card_moved", "card removed during read")
        emit(CardEvent.READ)
        return identity_of(BY_KEY[key])
