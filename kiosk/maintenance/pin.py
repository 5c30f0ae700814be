"""The technician PIN: a salted scrypt hash in the data folder, with a persistent lockout.

The PIN itself is never stored or logged. After `max_failures` wrong PINs in a row the
pad locks for `lockout_s`; each further lock doubles the wait (capped at a day). The
failure count and the lock survive a restart (they live beside the hash), so pulling
the power does not reset them. While locked a PIN is not even hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from kiosk.maintenance.files import read_json, write_private_json

# scrypt cost: 16 MiB and ~50 ms per guess on a terminal's CPU; stored per hash so it
# can be raised later without invalidating existing PINs.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_LEN, MAX_LEN = 6, 12
MAX_LOCKOUT_S = 24 * 3600.0


class PinOutcome(str, Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not_set"


@dataclass(frozen=True)
class PinCheck:
    outcome: PinOutcome
    failures: int = 0  # wrong PINs in a row so far
    attempts_left: int = 0  # before the next lock
    retry_after_s: float = 0.0  # while locked

    @property
    def ok(self) -> bool:
        return self.outcome is PinOutcome.OK


class PinPolicyError(ValueError):
    """A new PIN that does not meet the policy; `key` is a translation key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def check_policy(pin: str) -> None:
    """Refuse PINs that are short, non-numeric, one repeated digit or a run (123456)."""
    if not pin.isdigit() or not pin.isascii():
        raise PinPolicyError("maintenance.pin.digits_only")
    if not MIN_LEN <= len(pin) <= MAX_LEN:
        raise PinPolicyError("maintenance.pin.length")
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if len(steps) == 1 and steps <= {0, 1, 9}:
        raise PinPolicyError("maintenance.pin.too_simple")


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * 1024 * 1024)


class PinStore:
    """`<data_dir>/maintenance/pin.json` (hash) and `pin_lockout.json` (failures, lock)."""

    def __init__(self, folder: Path, *, max_failures: int = 5, lockout_s: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.hash_file = folder / "pin.json"
        self.lock_file = folder / "pin_lockout.json"
        self.max_failures = max(1, max_failures)
        self.lockout_s = max(1.0, lockout_s)
        self.clock = clock
        self._mutex = threading.Lock()  # one check at a time: failures are counted exactly

    # -- the hash ------------------------------------------------------------------
    def is_set(self) -> bool:
        return self._load_hash() is not None

    def _load_hash(self) -> dict[str, object] | None:
        data = read_json(self.hash_file)
        if not isinstance(data, dict) or data.get("kdf") != "scrypt":
            return None
        try:
            bytes.fromhex(str(data["salt"])), bytes.fromhex(str(data["hash"]))
            int(data["n"]), int(data["r"]), int(data["p"])
        except (KeyError, ValueError, TypeError):
            return None
        return data

    def set_pin(self, pin: str) -> None:
        """Store a new PIN (policy-checked) and clear any lock."""
        check_policy(pin)
        salt = os.urandom(16)
        digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        write_private_json(self.hash_file, {
            "v": 1, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
            "salt": salt.hex(), "hash": digest.hex(), "set_at": round(self.clock(), 3)})
        self._save_lock(0, 0.0, 0)

    # -- lockout state -------------------------------------------------------------
    def _load_lock(self) -> tuple[int, float, int]:
        if not self.lock_file.exists():
            return 0, 0.0, 0
        data = read_json(self.lock_file)
        try:
            return int(data["failures"]), float(data["locked_until"]), int(data["lockouts"])
        except (TypeError, KeyError, ValueError):
            # Unreadable lock state fails closed: one lock period, then a fresh count.
            until = self.clock() + self.lockout_s
            self._save_lock(0, until, 1)
            return 0, until, 1

    def _save_lock(self, failures: int, locked_until: float, lockouts: int) -> None:
        write_private_json(self.lock_file, {"failures": failures,
                                            "locked_until": round(locked_until, 3),
                                            "lockouts": lockouts})

    def state(self) -> PinCheck:
        """Whether a PIN may be tried now (LOCKED with the wait, or NOT_SET)."""
        if self._load_hash() is None:
            return PinCheck(PinOutcome.NOT_SET)
        failures, until, _ = self._load_lock()
        now = self.clock()
        if until > now:
            return PinCheck(PinOutcome.LOCKED, failures, 0, until - now)
        return PinCheck(PinOutcome.OK, failures, self.max_failures - failures)

    # -- checking ------------------------------------------------------------------
    def verify(self, pin: str) -> PinCheck:
        """Check a PIN, counting failures and locking after too many."""
        with self._mutex:
            return self._verify(pin)

    def _verify(self, pin: str) -> PinCheck:
        stored = self._load_hash()
        if stored is None:
            return PinCheck(PinOutcome.NOT_SET)
        failures, until, lockouts = self._load_lock()
        now = self.clock()
        if until > now:
            return PinCheck(PinOutcome.LOCKED, failures, 0, until - now)
        digest = _scrypt(pin, bytes.fromhex(str(stored["salt"])), int(stored["n"]),  # type: ignore[call-overload]
                         int(stored["r"]), int(stored["p"]))  # type: ignore[call-overload]
        if hmac.compare_digest(digest, bytes.fromhex(str(stored["hash"]))):
            self._save_lock(0, 0.0, 0)
            return PinCheck(PinOutcome.OK, 0, self.max_failures)
        failures += 1
        if failures >= self.max_failures:
            wait = min(MAX_LOCKOUT_S, self.lockout_s * 2 ** min(lockouts, 16))
            self._save_lock(0, now + wait, lockouts + 1)
            return PinCheck(PinOutcome.LOCKED, failures, 0, wait)
        self._save_lock(failures, 0.0, lockouts)
        return PinCheck(PinOutcome.WRONG, failures, self.max_failures - failures)
