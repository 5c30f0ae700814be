"""What the rest of the app may rely on from a social-security card reader (PC/SC)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiosk.devices.idcard.api import CardEvent, CardEventSink, CardReader

__all__ = ["CardEvent", "CardEventSink", "SsCardReader"]


@runtime_checkable
class SsCardReader(CardReader, Protocol):
    """Social-security cards: the holder's identity; `card_present` in the status
    details while a card sits in the slot (the end-of-session reminder watches it)."""
