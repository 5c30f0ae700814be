"""A health snapshot of the terminal: devices, disk, uptime, network, outbox, packages.

Used by the maintenance screens, `kiosk maintenance health` and the heartbeat. A device
`status()` may block on real hardware (a serial printer that does not answer), so each
device is asked on its own worker thread with a deadline, and a device whose previous
answer is still outstanding is not asked again (at most one stuck thread per device).
Devices may offer `metrics() -> dict` with live figures; otherwise the prober works
them out: camera `fps` from the sequence numbers of its latest frames, scanner
`last_read_at` and `reads` from its read events (never the code itself).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kiosk import __version__
from kiosk.devices.base import Device, DeviceError, DeviceState, DeviceStatus
from kiosk.devices.camera.api import Camera
from kiosk.devices.scanner.api import CodeScanner
from kiosk.identity import scrub_text

log = logging.getLogger(__name__)

# Details that make a device "faulty" for the fleet even while its state is online.
FAULT_DETAILS = frozenset({"paper_out", "cover_open", "media_jam", "paper_jam", "cutter_error",
                           "head_overheat", "no_camera"})
# `status_timeout`: no answer in time, e.g. while a long print job holds the device.
WARNING_DETAILS = frozenset({"paper_low", "toner_low", "status_unknown", "status_timeout"})
FAULT_STATES = frozenset({DeviceState.OFFLINE, DeviceState.NO_DEVICE,
                          DeviceState.HARDWARE_ERROR, DeviceState.USER_ERROR})


@dataclass(frozen=True)
class DeviceHealth:
    kind: str
    uri: str  # with any password removed
    state: str
    details: tuple[str, ...] = ()
    message: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    fitted: bool = True  # False: the terminal has no such device (AbsentDevice)

    @property
    def fault(self) -> bool:
        if not self.fitted:
            return False
        return DeviceState(self.state) in FAULT_STATES or bool(FAULT_DETAILS & set(self.details))

    @property
    def warning(self) -> bool:
        return bool(WARNING_DETAILS & set(self.details))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri, "state": self.state,
                "details": list(self.details), "message": self.message,
                "metrics": dict(self.metrics), "fitted": self.fitted, "fault": self.fault}


@dataclass(frozen=True)
class HealthSnapshot:
    at: float
    terminal_id: str
    app_version: str
    uptime_s: float
    system_uptime_s: float
    disk: Mapping[str, Any]
    devices: tuple[DeviceHealth, ...]
    network: Mapping[str, Any]
    outbox: Mapping[str, Any]
    packages: Mapping[str, Any]
    last_error: Mapping[str, Any] | None = None

    def device(self, kind: str) -> DeviceHealth | None:
        return next((d for d in self.devices if d.kind == kind), None)

    def faults(self) -> list[DeviceHealth]:
        return [d for d in self.devices if d.fault]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "terminal": self.terminal_id, "app_version": self.app_version,
                "uptime_s": round(self.uptime_s, 1),
                "system_uptime_s": round(self.system_uptime_s, 1), "disk": dict(self.disk),
                "devices": [d.to_dict() for d in self.devices], "network": dict(self.network),
                "outbox": dict(self.outbox), "packages": dict(self.packages),
                "last_error": dict(self.last_error) if self.last_error else None}


def safe_uri(uri: str) -> str:
    """The device URI without a password (`ipp://user:secret@host/…` -> `ipp://user@host/…`)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + "@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + netloc[-1]))


# -- device status with a deadline -------------------------------------------------------
class StatusProber:
    """Ask devices for `status()` on worker threads; never wait longer than the deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[int, threading.Thread] = {}
        self._last: dict[int, DeviceStatus] = {}
        self._frames: dict[int, tuple[int, float]] = {}  # camera: last (seq, at) seen
        self._reads: dict[int, dict[str, Any]] = {}  # scanner: last read time, count
        self._unsubscribe: list[Any] = []

    def metrics(self, kind: str, device: Device) -> dict[str, Any]:
        """Live figures a device does not report itself: camera fps, scanner last read."""
        fn = getattr(device, "metrics", None)
        if callable(fn):
            return {str(k): v for k, v in dict(fn()).items()}
        key = id(device)
        if kind == "camera" and isinstance(device, Camera):
            frame = device.latest()
            if frame is None:
                return {"fps": 0.0}
            seq, at = int(frame.seq), float(frame.at)
            before = self._frames.get(key)
            self._frames[key] = (seq, at)
            out: dict[str, Any] = {"frame": "{}x{}".format(*frame.size)}
            if before is not None and at > before[1]:
                out["fps"] = round((seq - before[0]) / (at - before[1]), 1)
            elif before is not None:
                out["fps"] = 0.0  # no new frame since the last look: not capturing
            return out
        if kind == "scanner" and isinstance(device, CodeScanner):
            if key not in self._reads:
                box: dict[str, Any] = {"reads": 0}
                self._reads[key] = box

                def seen(_event: Any, box: dict[str, Any] = box) -> None:
                    box["reads"] += 1  # only when and how many: never the code itself
                    box["last_read_at"] = round(time.time(), 3)

                try:
                    self._unsubscribe.append(device.subscribe(seen))
                except Exception:  # noqa: BLE001 - not open yet: try again next round
                    del self._reads[key]
                    return {}
            return dict(self._reads[key])
        return {}

    def close(self) -> None:
        """Stop listening to scanners."""
        for unsubscribe in self._unsubscribe:
            try:
                unsubscribe()
            except Exception:  # noqa: BLE001, S110 - a scanner gone already has no listener
                pass
        self._unsubscribe.clear()
        self._reads.clear()

    def status(self, device: Device, timeout_s: float) -> DeviceStatus:
        key = id(device)
        with self._lock:
            running = self._inflight.get(key)
            if running is None or not running.is_alive():
                # Not asked yet, or the last answer came: ask again. A call still stuck
                # from before is waited on instead, so threads never pile up.
                running = threading.Thread(target=self._ask, args=(device,), daemon=True,
                                           name=f"status-{device.kind}")
                self._inflight[key] = running
                running.start()
        running.join(timeout_s)
        with self._lock:
            last = self._last.get(key)
        if not running.is_alive() and last is not None:
            return last
        details = set(last.details) if last else set()
        return DeviceStatus(DeviceState.BUSY, frozenset(details | {"status_timeout"}),
                            f"no status answer within {timeout_s:g}s")

    def _ask(self, device: Device) -> None:
        try:
            st = device.status()
        except DeviceError as exc:
            st = DeviceStatus(DeviceState.HARDWARE_ERROR, frozenset(), exc.key)
        except Exception as exc:  # a driver bug must show as a fault, not kill the poller
            log.exception("status() of %s raised", device.kind)
            st = DeviceStatus(DeviceState.HARDWARE_ERROR, frozenset(), type(exc).__name__)
        with self._lock:
            self._last[id(device)] = st


def device_health(kind: str, device: Device, prober: StatusProber,
                  timeout_s: float = 2.0) -> DeviceHealth:
    from kiosk.devices.none import AbsentDevice

    st = prober.status(device, timeout_s)
    try:
        metrics = prober.metrics(kind, device)
    except Exception as exc:  # noqa: BLE001 - a driver's figures are optional in the report
        metrics = {"error": type(exc).__name__}
    return DeviceHealth(kind, safe_uri(device.uri.raw), st.state.value, tuple(sorted(st.details)),
                        scrub_text(st.message), metrics, not isinstance(device, AbsentDevice))


# -- process and machine ----------------------------------------------------------------
_IMPORTED = time.time()


def process_uptime_s() -> float:
    """Seconds since this process started (from /proc, else since this module loaded)."""
    try:
        fields_ = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields_[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time() - _IMPORTED


def system_uptime_s() -> float:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def disk_usage(path: Path) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        du = shutil.disk_usage(probe)
    except OSError as exc:
        return {"path": str(path), "error": type(exc).__name__}
    return {"path": str(path), "total_mb": du.total // 2**20, "free_mb": du.free // 2**20,
            "used_pct": round(100.0 * du.used / du.total, 1) if du.total else 0.0}


# -- the last error in the log ------------------------------------------------------------
class LastErrorHandler(logging.Handler):
    """Remembers the most recent ERROR record (masked) for heartbeats and the dashboard."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: dict[str, Any] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = scrub_text(record.getMessage())
        except Exception:  # noqa: BLE001 - a log line must never fail to be logged
            text = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            text += f" ({record.exc_info[0].__name__})"
        self.last = {"at": round(record.created, 3), "logger": record.name,
                     "message": _PHONE.sub(lambda m: m.group(0)[:3] + "****" + m.group(0)[-4:],
                                           text)[:300]}


_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_HANDLER = LastErrorHandler()


def install_last_error_handler() -> LastErrorHandler:
    """Attach the last-error handler to the root logger (once)."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    return _HANDLER


def last_error() -> dict[str, Any] | None:
    return _HANDLER.last


# -- optional parts of the runtime (network monitor, outbox, package manager) -------------
def _call(obj: Any, *names: str) -> Any:
    for name in names:
        fn = getattr(obj, name, None)
        if callable(fn):
            return fn()
    return None


def network_state(runtime: Any) -> dict[str, Any]:
    offline = getattr(runtime, "offline", None)  # kiosk.offline.OfflineServices
    link = getattr(offline, "link", None)
    if link is not None:
        return {"state": getattr(link, "value", str(link))}
    if getattr(runtime, "backend", None) is None:
        return {"state": "no_backend"}
    ready = getattr(runtime, "backend_ready", None)
    return {"state": "unknown" if ready is None or ready.is_set() else "starting"}


def outbox_state(runtime: Any) -> dict[str, Any]:
    """Depth per stream, total, oldest age, dead letters, dropped telemetry, refusal."""
    offline = getattr(runtime, "offline", None)
    if offline is None:
        return {"available": False}
    try:
        offline.open()  # opened at start-up on a running kiosk; a shell command opens it here
        status = offline.status()
    except Exception as exc:  # noqa: BLE001 - the report names the error, never raises it
        return {"available": False, "error": type(exc).__name__}
    data = status.get("outbox")
    if not isinstance(data, dict):
        return {"available": False, "error": status.get("error", "")}
    depth = data.get("depth") or {}
    return {"available": True, "total": sum(depth.values()), "depth": depth,
            "oldest_age_s": data.get("oldest_age_s"), "dead": data.get("dead_letters", 0),
            "dropped": data.get("dropped_telemetry", 0), "accepting": data.get("accepting"),
            "refusal": data.get("refusal", "")}


def package_state(runtime: Any) -> dict[str, Any]:
    pkg = getattr(runtime, "package", None)
    out: dict[str, Any] = {}
    if pkg is not None:
        versions = getattr(pkg, "versions", None)
        out["active"] = (list(versions) if isinstance(versions, (list, tuple))
                         else [f"{getattr(pkg, 'id', '?')}@{getattr(pkg, 'version', '?')}"])
    mgr = getattr(runtime, "packages", None)
    if mgr is not None:
        try:
            st = _call(mgr, "status") or {}
            out.update({k: st[k] for k in ("active", "staged", "last_error", "last_check")
                        if k in st})
            ring = (st.get("terminal") or {}).get("ring")
            if isinstance(ring, int):  # the centre's rollouts: which wave it belongs to
                out["ring"] = ring
        except Exception as exc:  # noqa: BLE001 - the report names the error, never raises it
            out["error"] = type(exc).__name__
    return out


def collect(runtime: Any, prober: StatusProber | None = None,
            device_timeout_s: float = 2.0) -> HealthSnapshot:
    """Take a health snapshot of a `Runtime` (devices asked in parallel)."""
    prober = prober or StatusProber()
    devices: dict[str, Device] = dict(runtime.devices.devices)
    results: dict[str, DeviceHealth] = {}

    def one(kind: str, dev: Device) -> None:
        results[kind] = device_health(kind, dev, prober, device_timeout_s)

    threads = [threading.Thread(target=one, args=(k, d), daemon=True, name=f"health-{k}")
               for k, d in devices.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(device_timeout_s + 1.0)
    cfg = runtime.config
    return HealthSnapshot(
        at=round(time.time(), 3), terminal_id=cfg.terminal.id, app_version=__version__,
        uptime_s=process_uptime_s(), system_uptime_s=system_uptime_s(),
        disk=disk_usage(cfg.data_dir),
        devices=tuple(results[k] for k in devices if k in results),
        network=network_state(runtime), outbox=outbox_state(runtime),
        packages=package_state(runtime), last_error=last_error())


def device_fault_key(kind: str, state: str, details: Any) -> str | None:
    """The translation key of what keeps a device from working, or None: a detail the
    citizen would meet (paper out, cover open, jam) first, else the state."""
    found = sorted(FAULT_DETAILS & set(details))
    if found:
        return f"device.{kind}.{found[0]}"
    if state == DeviceState.NO_DEVICE.value and kind not in ("receipt", "a4"):
        return None  # an optional reader the terminal does not have
    if DeviceState(state) in FAULT_STATES:
        return f"device.{kind}.offline"
    return None
