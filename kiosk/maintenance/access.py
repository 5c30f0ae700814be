"""Who may open maintenance mode: technician PIN or technician card, every step audited.

Audit events go through the runtime's `record(stream="audit", payload)`, which the
offline outbox delivers to the platform. A payload never holds a PIN or a full card
number: cards appear masked (`4419**********1234`).

Technician cards are configured as `maintenance.technician_cards` entries made by
`kiosk maintenance card-entry`: `scrypt$N$r$p$<salt hex>$<hash hex>` of the card's
ID number, optionally preceded by a label (`"4419**********1234 scrypt$…"`). A masked
number alone is not used to match: many citizens share the first and last four digits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.identity import Identity, mask_id_number
from kiosk.maintenance.pin import PinCheck, PinOutcome, PinStore

log = logging.getLogger(__name__)

Recorder = Callable[[str, dict[str, Any]], None]
CARD_N, CARD_R, CARD_P = 2**14, 8, 1


class CardEntryError(ValueError):
    pass


def card_entry(id_number: str, label: str = "") -> str:
    """A config entry for a technician card: salted scrypt of the normalised number."""
    number = _normalise(id_number)
    if len(number) < 8:
        raise CardEntryError("card number too short")
    salt = os.urandom(16)
    digest = _card_hash(number, salt, CARD_N, CARD_R, CARD_P)
    entry = f"scrypt${CARD_N}${CARD_R}${CARD_P}${salt.hex()}${digest.hex()}"
    return f"{label or mask_id_number(number)} {entry}"


def _normalise(number: str) -> str:
    return "".join(number.split()).upper()


def _card_hash(number: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(number.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * 1024 * 1024)


@dataclass(frozen=True)
class CardHash:
    label: str
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, entry: str) -> CardHash:
        label, _, spec = entry.strip().rpartition(" ")
        parts = spec.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise CardEntryError("technician card entry must look like scrypt$N$r$p$salt$hash")
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
        except ValueError:
            raise CardEntryError("technician card entry has a bad number or hex") from None
        if n < 2**10 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(digest) != 32:
            raise CardEntryError("technician card entry has unusable scrypt parameters")
        return cls(label.strip(), n, r, p, salt, digest)

    def matches(self, number: str) -> bool:
        candidate = _card_hash(_normalise(number), self.salt, self.n, self.r, self.p)
        return hmac.compare_digest(candidate, self.digest)


def parse_card_entries(raw: Iterable[str] | str) -> list[CardHash]:
    """Parse configured entries (a list, or comma-separated text from the environment)."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out = []
    for item in items:
        if item.strip():
            try:
                out.append(CardHash.parse(item))
            except CardEntryError as exc:
                log.error("ignoring a technician card entry: %s", exc)
    return out


@dataclass(frozen=True)
class AccessResult:
    granted: bool
    key: str  # translation key for the pad: maintenance.access.*
    method: str = ""  # "pin" | "card"
    who: str = ""  # masked card number, or "pin"
    check: PinCheck | None = None


class MaintenanceAccess:
    """Gatekeeper of maintenance mode: checks PINs and cards, records every step."""

    def __init__(self, config: Config, record: Recorder, *,
                 clock: Callable[[], float] = time.time, folder: Path | None = None) -> None:
        mc = config.maintenance
        self.terminal_id = config.terminal.id
        self.pins = PinStore(folder or config.data_dir / "maintenance",
                             max_failures=mc.pin_max_failures, lockout_s=mc.pin_lockout_s,
                             clock=clock)
        self.cards = parse_card_entries(mc.technician_cards)
        self.record = record
        self.clock = clock
        self._lock = threading.Lock()
        self.session: dict[str, Any] | None = None  # the open maintenance session

    @property
    def is_open(self) -> bool:
        return self.session is not None

    def audit(self, event: str, **fields: Any) -> None:
        payload = {"event": f"maintenance.{event}", "terminal": self.terminal_id,
                   "at": round(self.clock(), 3), **fields}
        try:
            self.record("audit", payload)
        except Exception:  # an audit failure must not lock a technician out silently
            log.exception("audit record failed: %s", payload["event"])
        log.info("audit %s %s", payload["event"],
                 {k: v for k, v in fields.items() if k != "detail"})

    def enter_pin(self, pin: str) -> AccessResult:
        """Check a PIN from the pad; open maintenance mode when it is right."""
        check = self.pins.verify(pin)
        if check.outcome is PinOutcome.OK:
            return self._open("pin", "pin", check)
        if check.outcome is PinOutcome.NOT_SET:
            self.audit("pin_refused", reason="not_set")
            return AccessResult(False, "maintenance.access.pin_not_set", "pin", check=check)
        if check.outcome is PinOutcome.LOCKED:
            self.audit("pin_refused", reason="locked", failures=check.failures,
                       retry_after_s=round(check.retry_after_s))
            return AccessResult(False, "maintenance.access.locked", "pin", check=check)
        self.audit("pin_refused", reason="wrong", failures=check.failures,
                   attempts_left=check.attempts_left)
        return AccessResult(False, "maintenance.access.wrong_pin", "pin", check=check)

    def enter_card(self, identity: Identity) -> AccessResult:
        """Open maintenance mode for a card on the technician list."""
        numbers = [n for n in (identity.id_number, identity.card_number) if n]
        masked = mask_id_number(numbers[0]) if numbers else ""
        if not self.cards:
            self.audit("card_refused", card=masked, reason="no_technician_cards")
            return AccessResult(False, "maintenance.access.card_refused", "card", masked)
        for entry in self.cards:
            if any(entry.matches(n) for n in numbers):
                return self._open("card", masked)
        self.audit("card_refused", card=masked, reason="not_listed")
        return AccessResult(False, "maintenance.access.card_refused", "card", masked)

    def _open(self, method: str, who: str, check: PinCheck | None = None) -> AccessResult:
        with self._lock:
            self.session = {"method": method, "who": who, "opened": self.clock()}
        self.audit("enter", method=method, who=who)
        return AccessResult(True, "maintenance.access.granted", method, who, check)

    def action(self, name: str, **fields: Any) -> None:
        """Audit a technician action (self-test, restart, test print, export)."""
        who = self.session["who"] if self.session else ""
        self.audit("action", action=name, who=who, **fields)

    def leave(self, reason: str = "leave") -> None:
        with self._lock:
            session, self.session = self.session, None
        if session is not None:
            self.audit("exit", reason=reason, method=session["method"], who=session["who"],
                       duration_s=round(self.clock() - session["opened"], 1))
