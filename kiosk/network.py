"""Watch the link to the platform: probe with backoff, tell listeners when it changes.

Qt-free. The monitor runs its own thread; listeners are called on that thread with the
new `LinkState` (the UI re-emits them as queued Qt signals). Other traffic can add
evidence with `report(ok)`: a failed delivery makes the monitor probe at once instead
of waiting for its next round, a successful one marks the link online.

While online the platform is probed every `interval_s`; while offline the delay is
exponential with full jitter (uniform(0, min(cap, base * 2**n))), so a fleet whose
station link returns at once does not probe in lock-step.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from enum import Enum

log = logging.getLogger(__name__)


class LinkState(Enum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


Listener = Callable[[LinkState], None]


class NetworkMonitor:
    def __init__(self, probe: Callable[[], bool | None], *, interval_s: float = 15.0,
                 backoff_base_s: float = 1.0, backoff_cap_s: float = 60.0,
                 min_delay_s: float = 0.1, rng: random.Random | None = None) -> None:
        self.probe = probe
        self.interval_s = interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.min_delay_s = min_delay_s
        self.rng = rng or random.Random()
        self._state = LinkState.UNKNOWN
        self._failures = 0
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._changed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.probes = 0

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def online(self) -> bool:
        return self._state is not LinkState.OFFLINE

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _set(self, state: LinkState) -> None:
        with self._lock:
            if state is self._state:
                return
            old, self._state = self._state, state
            self._changed.notify_all()
            listeners = list(self._listeners)
        log.warning("platform link %s -> %s", old.value, state.value)
        for cb in listeners:
            try:
                cb(state)
            except Exception:
                log.exception("link listener failed")

    def check(self) -> LinkState:
        """Probe once now and update the state."""
        self.probes += 1
        try:
            answer = self.probe()
        except Exception:  # noqa: BLE001 - a probe that raises is a failed probe
            answer = False
        if answer is None:  # cannot tell yet (e.g. the platform client is still starting)
            return self._state
        ok = bool(answer)
        self._failures = 0 if ok else self._failures + 1
        self._set(LinkState.ONLINE if ok else LinkState.OFFLINE)
        return self._state

    def report(self, ok: bool) -> None:
        """Evidence from other traffic: success marks online; failure triggers a probe."""
        if ok:
            self._failures = 0
            self._set(LinkState.ONLINE)
        else:
            self._wake.set()

    def next_delay(self) -> float:
        if self._state is LinkState.ONLINE:
            return self.interval_s
        window = min(self.backoff_cap_s,
                     self.backoff_base_s * 2 ** max(0, min(self._failures - 1, 30)))
        return max(self.min_delay_s, self.rng.uniform(0.0, window))

    def wait_for(self, state: LinkState, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._state is not state:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def start(self) -> NetworkMonitor:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, daemon=True, name="net-monitor")
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._wake.wait(self.next_delay())
            self._wake.clear()
