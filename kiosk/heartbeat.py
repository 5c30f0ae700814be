"""Heartbeats and device-fault events from the terminal to the platform.

Every `heartbeat.interval_s` the terminal sends its health (devices, outbox depth,
package versions, uptime, disk, last error); every `heartbeat.fault_poll_s` it polls
device status and sends an event the moment a device enters or leaves a fault
(`fault`, `warning`, `recovered`). Qt-free, on its own thread.

Delivery: through the durable outbox when the runtime has one (`runtime.record` with
streams `heartbeat` and `telemetry`, which the outbox may drop under pressure), else
signed and direct to `POST /api/v1/fleet/heartbeat` and `/api/v1/fleet/events`
(events that could not be sent wait in a small in-memory queue for the next round).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from kiosk.maintenance.health import (
    FAULT_DETAILS,
    WARNING_DETAILS,
    DeviceHealth,
    HealthSnapshot,
    StatusProber,
    collect,
    device_fault_key,
    device_health,
)

log = logging.getLogger(__name__)

HEARTBEAT_PATH = "/api/v1/fleet/heartbeat"
EVENTS_PATH = "/api/v1/fleet/events"
MAX_PENDING_EVENTS = 200


def fault_signature(d: DeviceHealth) -> tuple[str, tuple[str, ...]]:
    """What an event is about: `fault`/`warning`/`ok` and the details behind it."""
    if not d.fitted:
        return "ok", ()
    flagged = tuple(sorted((FAULT_DETAILS | WARNING_DETAILS) & set(d.details)))
    if d.fault:
        return "fault", (d.state, *flagged)
    if d.warning:
        return "warning", flagged
    return "ok", ()


def heartbeat_payload(snap: HealthSnapshot, seq: int, boot: str,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compact body of one heartbeat (no personal data: none is in a snapshot)."""
    return {
        "seq": seq, "boot": boot, "sent_at": snap.at, "terminal": snap.terminal_id,
        "app_version": snap.app_version, "uptime_s": round(snap.uptime_s),
        "devices": {d.kind: {"state": d.state, "details": list(d.details), "fault": d.fault,
                             "fitted": d.fitted, "message": d.message[:200],
                             **({"metrics": dict(d.metrics)} if d.metrics else {})}
                    for d in snap.devices},
        "outbox": dict(snap.outbox), "packages": dict(snap.packages),
        "network": dict(snap.network), "disk": dict(snap.disk),
        "last_error": dict(snap.last_error) if snap.last_error else None,
        **(extra or {}),
    }


class Heartbeat:
    def __init__(self, runtime: Any, *, interval_s: float | None = None,
                 fault_poll_s: float | None = None, via: str = "auto",
                 status: Callable[[], dict[str, Any]] | None = None) -> None:
        cfg = runtime.config.heartbeat
        self.runtime = runtime
        self.interval_s = cfg.interval_s if interval_s is None else interval_s
        self.fault_poll_s = cfg.fault_poll_s if fault_poll_s is None else fault_poll_s
        self.via = via
        self.extra_status = status  # e.g. {"maintenance": True} from the UI
        self.prober = StatusProber()
        self.boot = uuid.uuid4().hex[:12]
        self.seq = 0
        self.sent = 0
        self.failed = 0
        self.last_sent_at: float | None = None
        self.last_problem = ""
        self._signatures: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._pending: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING_EVENTS)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- delivery --------------------------------------------------------------------
    def _use_outbox(self) -> bool:
        if self.via == "outbox":
            return True
        offline = getattr(self.runtime, "offline", None)  # kiosk.offline.OfflineServices
        return self.via == "auto" and offline is not None and offline.open() is not None

    def _post(self, path: str, payload: dict[str, Any], key: str) -> bool:
        backend = getattr(self.runtime, "backend", None)
        if backend is None:
            self.last_problem = "no_backend"
            return False
        try:
            backend.post_json(path, payload, idempotency_key=key)
            return True
        except Exception as exc:  # noqa: BLE001 - BackendError or a transport error: try again next round
            self.last_problem = getattr(exc, "key", type(exc).__name__)
            log.info("heartbeat: %s not delivered (%s)", path, self.last_problem)
            return False

    def _send_event(self, event: dict[str, Any]) -> None:
        if self._use_outbox():
            try:
                self.runtime.record("telemetry", event)
            except Exception as exc:  # noqa: BLE001 - telemetry may be lost; its sender must not be
                self.last_problem = getattr(exc, "key", type(exc).__name__)
            return
        self._pending.append(event)
        self._flush_events()

    def _flush_events(self) -> None:
        while self._pending:
            event = self._pending[0]
            if not self._post(EVENTS_PATH, event, event["key"]):
                return
            self._pending.popleft()

    # -- one round ---------------------------------------------------------------------
    def check_faults(self, devices: tuple[DeviceHealth, ...] | list[DeviceHealth]
                     ) -> list[dict[str, Any]]:
        """Compare device states with the last round; send an event for each change."""
        events = []
        note = getattr(self.runtime, "note_device", None)
        for d in devices:
            if note is not None and d.fitted:  # services that need a faulted device pause
                note(d.kind, device_fault_key(d.kind, d.state, d.details))
            sig = fault_signature(d)
            before = self._signatures.get(d.kind, ("ok", ()))
            self._signatures[d.kind] = sig
            if sig == before:
                continue
            kind = "recovered" if sig[0] == "ok" else sig[0]
            event = {"type": kind, "key": f"ev-{self.boot}-{uuid.uuid4().hex[:12]}",
                     "terminal": self.runtime.config.terminal.id, "device": d.kind,
                     "state": d.state, "details": list(d.details), "message": d.message[:200],
                     "at": round(time.time(), 3)}
            log.warning("device %s: %s %s %s", d.kind, kind, d.state, " ".join(d.details))
            events.append(event)
            self._send_event(event)
        return events

    def poll_faults(self) -> list[dict[str, Any]]:
        """Poll device status only (cheap) and report changes."""
        with self._lock:
            devices = [device_health(k, dev, self.prober)
                       for k, dev in self.runtime.devices.devices.items()]
            return self.check_faults(devices)

    def beat(self) -> bool:
        """Take a snapshot, report fault changes, send one heartbeat; True if delivered."""
        with self._lock:
            snap = collect(self.runtime, self.prober)
            self.check_faults(snap.devices)
            self.seq += 1
            extra = {"heartbeat": {"interval_s": self.interval_s, "failed": self.failed,
                                   "pending_events": len(self._pending)}}
            if self.extra_status is not None:
                try:
                    extra.update(self.extra_status())
                except Exception:
                    log.exception("heartbeat status callback failed")
            payload = heartbeat_payload(snap, self.seq, self.boot, extra)
            if self._use_outbox():
                try:
                    self.runtime.record("heartbeat", payload)  # telemetry: may be dropped
                    ok = True
                except Exception as exc:  # noqa: BLE001 - telemetry may be lost; its sender must not be
                    self.last_problem = getattr(exc, "key", type(exc).__name__)
                    ok = False
            else:
                self._flush_events()
                ok = self._post(HEARTBEAT_PATH, payload, f"hb-{self.boot}-{self.seq}")
            if ok:
                self.sent += 1
                self.last_sent_at = snap.at
            else:
                self.failed += 1
            return ok

    # -- thread ----------------------------------------------------------------------------
    def start(self) -> Heartbeat:
        if self.interval_s <= 0:
            log.info("heartbeat disabled (interval_s=0)")
            return self
        self._thread = threading.Thread(target=self._run, daemon=True, name="heartbeat")
        self._thread.start()
        return self

    def wake(self) -> None:
        """Send a heartbeat now (e.g. after leaving maintenance mode)."""
        self._wake.set()

    def _run(self) -> None:
        ready = getattr(self.runtime, "backend_ready", None)
        if ready is not None:
            ready.wait(30)
        next_beat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_beat or self._wake.is_set():
                    self._wake.clear()
                    self.beat()
                    next_beat = time.monotonic() + self.interval_s
                else:
                    self.poll_faults()
            except Exception:  # the heartbeat must outlive any one bad round
                log.exception("heartbeat round failed")
                next_beat = time.monotonic() + self.interval_s
            wait = min(self.fault_poll_s or self.interval_s,
                       max(0.0, next_beat - time.monotonic()))
            self._wake.wait(max(0.05, wait))
            if self._stop.is_set():
                break

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.prober.close()
