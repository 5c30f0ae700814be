"""Heartbeats and device-fault events from the terminal to the fleet channel.

Every `heartbeat.interval_s` the terminal publishes its health (devices, consumables,
outbox depth, package versions, app version, uptime, disk, last error) on its `health`
topic; every `heartbeat.fault_poll_s` it polls device status and reports an event on
`events` the moment a device enters or leaves a fault (`fault`, `warning`,
`recovered`). Qt-free, on its own thread; the MQTT side is `kiosk.fleet.client`.

Delivery: health goes out when the link is up and is skipped while it is down (the next
snapshot supersedes it); events go through the fleet client's durable outbox and are
published with QoS 1 when the broker is reachable, each with an id the centre applies
once. With no broker configured (`fleet.broker_url = ""`) nothing is published, but
faults are still detected and services that need a faulted device still pause.

With the fleet channel the heartbeat also wires remote commands (`kiosk.fleet.commands`:
an executor answering on `results`, the screen side given as `host`) and package
reports (every staged / activated / rejected / rolled-back package as a `package` event;
the health body carries `activated_at` and the `sessions`, `error_screens` and `faults`
counted since that activation).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
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
                 fault_poll_s: float | None = None, fleet: Any = None,
                 status: Callable[[], dict[str, Any]] | None = None,
                 host: Any = None) -> None:
        """`fleet`: a started-or-not `kiosk.fleet.client.FleetClient`; by default one is
        made from the runtime's configuration (none when no broker is configured).
        `host`: the screen side for remote commands (`kiosk.fleet.commands.Host`); a
        headless one by default."""
        cfg = runtime.config.heartbeat
        self.runtime = runtime
        self.interval_s = cfg.interval_s if interval_s is None else interval_s
        self.fault_poll_s = cfg.fault_poll_s if fault_poll_s is None else fault_poll_s
        self.extra_status = status  # e.g. {"maintenance": True} from the UI
        self.prober = StatusProber()
        self.boot = uuid.uuid4().hex[:12]
        self.seq = 0
        self.sent = 0
        self.failed = 0
        self.last_sent_at: float | None = None
        self.last_problem = ""
        self._signatures: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.fleet = fleet if fleet is not None else self._fleet_from_config()
        self.commands: Any = None
        if self.fleet is not None:
            self.commands = self._wire_commands(host)
            self._wire_package_reports()

    def _fleet_from_config(self) -> Any:
        from kiosk.fleet.client import FleetClient, FleetConfigError

        try:
            return FleetClient.from_config(self.runtime.config, online_body=self._online_body)
        except FleetConfigError as exc:  # the kiosk still serves; the technician sees why
            self.last_problem = exc.key
            log.error("fleet channel off: %s", exc)
            return None

    def _wire_commands(self, host: Any) -> Any:
        from kiosk.fleet.commands import STATE_FILE, CommandExecutor, HeadlessHost, pinned_keys
        from kiosk.fleet.commands_protocol import CommandKeyError

        rt = self.runtime
        try:
            keys = pinned_keys(rt.config)
        except CommandKeyError as exc:  # checked at start; a file removed since
            log.error("command key unreadable, every command is refused: %s", exc)
            keys = {}
        executor = CommandExecutor(
            rt, self.fleet.report_result, host or HeadlessHost(rt), keys=keys,
            state_path=rt.config.data_dir / STATE_FILE, terminal=rt.config.terminal.id,
            boot=self.boot, package_event=lambda body: self._report("package", body),
            snapshot=self._snapshot)
        self.fleet.on_command(executor.handle)
        return executor

    def _snapshot(self) -> dict[str, Any]:
        """A health snapshot for the remote log bundle (the prober is the heartbeat's)."""
        with self._lock:
            return collect(self.runtime, self.prober).to_dict()

    def _wire_package_reports(self) -> None:
        mgr = getattr(self.runtime, "packages", None)
        if mgr is not None:
            mgr.listeners.append(lambda event: self._report("package", event.to_json()))

    def _report(self, kind: str, body: dict[str, Any]) -> None:
        if self.fleet is not None:
            self._send_event({"type": kind, **body})

    def _online_body(self) -> dict[str, Any]:
        """What the retained online state says besides `online` (no personal data)."""
        cfg = self.runtime.config
        from kiosk import __version__

        return {"boot": self.boot, "app_version": __version__,
                "heartbeat_interval_s": self.interval_s, "site": cfg.terminal.name}

    # -- delivery --------------------------------------------------------------------
    def _send_event(self, event: dict[str, Any]) -> None:
        if self.fleet is None:
            return
        body = {k: v for k, v in event.items() if k != "type"}
        try:
            self.fleet.report_event(event["type"], body)
        except Exception as exc:  # noqa: BLE001 - a refused event is logged; its sender goes on
            self.last_problem = getattr(exc, "reason", type(exc).__name__)
            log.error("fault event not reported: %s", exc)

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
            count = getattr(self.runtime, "count", None)
            if kind == "fault" and count is not None:
                count("faults")  # for the rollout's fault rate since activation
            event = {"type": kind, "boot": self.boot, "device": d.kind,
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
        """Take a snapshot, report fault changes, publish one heartbeat; True if sent."""
        with self._lock:
            snap = collect(self.runtime, self.prober)
            self.check_faults(snap.devices)
            self.seq += 1
            extra: dict[str, Any] = {"heartbeat": {"interval_s": self.interval_s,
                                                   "failed": self.failed}}
            if self.fleet is not None:
                extra["fleet"] = self.fleet.status()
            if self.commands is not None:
                extra["commands"] = self.commands.status()
            counters = getattr(self.runtime, "counters", None)
            if counters is not None:  # activated_at, sessions, error_screens, faults
                extra.update(counters.snapshot())
            if self.extra_status is not None:
                try:
                    extra.update(self.extra_status())
                except Exception:
                    log.exception("heartbeat status callback failed")
            payload = heartbeat_payload(snap, self.seq, self.boot, extra)
            ok = self._publish(payload)
            if ok:
                self.sent += 1
                self.last_sent_at = snap.at
            else:
                self.failed += 1
            return ok

    def _publish(self, payload: dict[str, Any]) -> bool:
        if self.fleet is None:
            return False
        from kiosk.fleet.protocol import ProtocolError

        try:
            return bool(self.fleet.publish_health(payload))
        except ProtocolError as exc:
            # A masked log line should never hold an ID number; if one does, the
            # snapshot goes without it rather than not at all.
            log.error("heartbeat withheld a field: %s", exc.reason)
            self.last_problem = exc.reason
            payload["last_error"] = {"withheld": exc.reason}
            try:
                return bool(self.fleet.publish_health(payload))
            except ProtocolError:
                return False

    # -- thread ----------------------------------------------------------------------------
    def start(self) -> Heartbeat:
        if self.interval_s <= 0:
            log.info("heartbeat disabled (interval_s=0)")
            return self
        if self.fleet is not None:
            self.fleet.start()  # its own threads: connecting never delays this one
        if self.commands is not None:
            self.commands.start()
        self._thread = threading.Thread(target=self._run, daemon=True, name="heartbeat")
        self._thread.start()
        return self

    def wake(self) -> None:
        """Send a heartbeat now (e.g. after leaving maintenance mode)."""
        self._wake.set()

    def _run(self) -> None:
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
        if self.commands is not None:
            self.commands.stop()
        if self.fleet is not None:
            self.fleet.stop()  # a goodbye: the retained state says offline
        self.prober.close()
