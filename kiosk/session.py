"""One citizen at a time: identity and flow data in memory, wiped when the session ends.

The identity is held once, typed: `identity` (the citizen) and `companions` (a spouse
who identified with their own card, by the name the flow gave them). Flow data never
holds a copy; steps and templates read them through `views()`, masked by default.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from kiosk.identity import Identity, IdentityView

log = logging.getLogger(__name__)


class Session:
    """State of one citizen's visit. Nothing here is ever written to disk."""

    def __init__(self, locale: str = "zh_CN") -> None:
        self.id = uuid.uuid4().hex
        self.started = time.monotonic()
        self.locale = locale
        self.identity: Identity | None = None
        self.companions: dict[str, Identity] = {}
        self.data: dict[str, Any] = {}
        self.cancel = threading.Event()
        self.ended = False
        self.end_reason = ""

    def set_identity(self, identity: Identity) -> None:
        self.identity = identity
        log.info("session %s identified: %s", self.id[:8], identity)

    def set_companion(self, name: str, identity: Identity) -> None:
        """A second person of this visit (a spouse), read from their own card."""
        if name == "identity":
            raise ValueError("a companion cannot take the citizen's name")
        self.companions[name] = identity
        log.info("session %s companion %s identified: %s", self.id[:8], name, identity)

    def views(self, *, reveal: bool = False) -> dict[str, IdentityView]:
        """`identity` and each companion as the flow data reads them (masked; with
        `reveal`, their `.full` shows real values: platform requests, the certificate)."""
        out = {name: c.view(reveal=reveal) for name, c in self.companions.items()}
        if self.identity is not None:
            out["identity"] = self.identity.view(reveal=reveal)
        return out

    def wipe(self, reason: str = "finished") -> None:
        """End the session: cancel anything running and drop all personal data."""
        self.cancel.set()
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        self.identity = None
        self.companions.clear()
        _wipe_mapping(self.data)
        log.info("session %s ended (%s) after %.1fs", self.id[:8], reason,
                 time.monotonic() - self.started)


def _wipe_mapping(d: dict[str, Any]) -> None:
    for value in d.values():
        if isinstance(value, bytearray):
            value[:] = b"\0" * len(value)
        elif isinstance(value, dict):
            _wipe_mapping(value)
    d.clear()
