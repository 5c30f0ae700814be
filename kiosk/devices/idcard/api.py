"""What the rest of the app may rely on from a resident ID card reader (no transport)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService
from kiosk.identity import Identity


class CardEvent(str, Enum):
    """What a card reader reports while `read_identity` runs (for the identify screen)."""

    WAITING = "waiting"  # polling, no card on the reader
    PRESENT = "present"  # a card was found
    READING = "reading"  # reading it: "do not move the card"
    READ = "read"  # read and decoded
    FAILED = "failed"  # this attempt failed (the DeviceError says why)
    REMOVED = "removed"  # the card went away
    TAKE_OUT = "take_out"  # the card in the slot was used already: take it out first


CardEventSink = Callable[[CardEvent], None]


@runtime_checkable
class CardReader(DeviceService, Protocol):
    """A reader that turns a card into an `Identity` (ID card and social-security card)."""

    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        """Wait for a card, read it and return the identity; raise DeviceError/Cancelled.

        `on_event` (optional) is called from the reading thread with CardEvents.
        """
        ...


@runtime_checkable
class IdCardReader(CardReader, Protocol):
    """Resident ID cards (and HK/Macau/Taiwan and foreigner residence permits)."""
