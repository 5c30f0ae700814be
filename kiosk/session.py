"""One citizen at a time: identity and flow data in memory, wiped when the session ends."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from kiosk.identity import Identity

log = logging.getLogger(__name__)


class Session:
    """State of one citizen's visit. Nothing here is ever written to disk."""

    def __init__(self, locale: str = "zh_CN") -> None:
        self.id = uuid.uuid4().hex
        self.started = time.monotonic()
        self.locale = locale
        self.identity: Identity | None = None
        self.data: dict[str, Any] = {}
        self.cancel = threading.Event()
        self.ended = False
        self.end_reason = ""

    def set_identity(self, identity: Identity) -> None:
        self.identity = identity
        log.info("session %s identified: %s", self.id[:8], identity)

    def wipe(self, reason: str = "finished") -> None:
        """End the session: cancel anything running and drop all personal data."""
        self.cancel.set()
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        self.identity = None
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
