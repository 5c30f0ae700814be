"""What the package manager tells the operations centre: package events and the counters
that judge a version after it was activated (issue 16's guarded rollouts).

- `PackageEvent`: staged / activated / rejected (with the reason) / rolled_back /
  waiting_for_session, per package of a set, raised by `PackageManager` to its listeners
  and sent as `package` events on the fleet channel (`kiosk.heartbeat` wires that).
- `ActivationCounters`: citizens' sessions, error screens shown and device faults since
  the active set was activated (`state.json`'s `activated_at`), kept across restarts in
  `<packages>/counters.json` (saved at most every `save_every_s` and at close: a lost
  increment after a power cut only makes a rate a little rounder) and reset when another
  set is activated. The heartbeat carries them; the centre turns them into the error-
  screen and fault rates that halt a rollout.

Qt-free and fleet-free: the manager knows listeners only as callables.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATES = ("staged", "activated", "rejected", "rolled_back", "waiting_for_session")
COUNTERS = ("sessions", "error_screens", "faults")


@dataclass(frozen=True)
class PackageEvent:
    package: str
    version: str
    state: str  # one of STATES
    reason: str = ""

    @classmethod
    def of(cls, label: str, state: str, reason: str = "") -> PackageEvent:
        """From a set entry's label (`id@version`; a whole set's label has no version)."""
        package, _, version = label.partition("@")
        return cls(package, version, state, reason[:300])

    def to_json(self) -> dict[str, str]:
        return {"package": self.package, "version": self.version, "state": self.state,
                "reason": self.reason}


Listener = Callable[[PackageEvent], None]


class ActivationCounters:
    """Sessions, error screens and faults since the active set's activation (thread-safe)."""

    def __init__(self, path: Path, activated_at: Callable[[], str | None], *,
                 save_every_s: float = 10.0) -> None:
        self.path = Path(path)
        self._activated_at = activated_at
        self.save_every_s = save_every_s
        self._lock = threading.Lock()
        self._saved_at = 0.0
        self._dirty = False
        self.since = ""
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        current = self._current()
        if isinstance(data, dict) and data.get("since", "") == current:
            for k in COUNTERS:
                v = data.get(k)
                if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                    self.counts[k] = v
        self.since = current

    def _current(self) -> str:
        try:
            return self._activated_at() or ""
        except Exception:  # an unreadable state file: counting goes on
            log.warning("counters: activation time unreadable", exc_info=True)
            return self.since if hasattr(self, "since") else ""

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n
            self._dirty = True
        if time.monotonic() - self._saved_at >= self.save_every_s:
            self.save()

    def reset(self, since: str | None = None) -> None:
        """A new set was activated: count from zero (since its activation time)."""
        with self._lock:
            self.since = since if since is not None else self._current()
            self.counts = dict.fromkeys(COUNTERS, 0)
            self._dirty = True
        self.save()

    def snapshot(self) -> dict[str, Any]:
        """What the heartbeat carries: `activated_at` and every counter since then."""
        current = self._current()
        if current != self.since:  # activated by another process (a technician's CLI)
            self.reset(current)
        with self._lock:
            out: dict[str, Any] = {"activated_at": self.since or None, **self.counts}
        self.save()
        return out

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            data = json.dumps({"since": self.since, **self.counts}).encode()
            self._dirty = False
            self._saved_at = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".counters.", dir=self.path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not stop a citizen's session
            log.warning("counters not saved: %s", exc)
            with self._lock:
                self._dirty = True


class WaitingReporter:
    """`waiting_for_session` once per staged set that a citizen's session holds back."""

    def __init__(self, emit: Listener) -> None:
        self.emit = emit
        self._reported: tuple[str, ...] = ()

    def check(self, staged: list[str] | None, busy: bool) -> bool:
        """`staged`: labels of the staged set (None: nothing staged). True if it reported."""
        if not staged:
            self._reported = ()
            return False
        key = tuple(staged)
        if not busy or key == self._reported:
            return False
        self._reported = key
        for label in staged:
            self.emit(PackageEvent.of(label, "waiting_for_session", "session_active"))
        return True
