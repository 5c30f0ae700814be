"""Health snapshots: device details, a hanging driver, disk, uptime, last error."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kiosk.devices.base import Device, DeviceState, DeviceStatus, DeviceUri
from kiosk.devices.camera.api import Camera
from kiosk.devices.scanner.api import ScriptableScanner
from kiosk.maintenance.health import (
    StatusProber,
    collect,
    device_health,
    install_last_error_handler,
    safe_uri,
)
from kiosk.runtime import Runtime


class HangingDevice(Device):
    """A driver whose status() blocks (a serial printer that stopped answering)."""

    kind = "receipt"

    def __init__(self) -> None:
        super().__init__(DeviceUri.parse("escpos+serial:///dev/ttyS9"))
        self.release = threading.Event()
        self.calls = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def status(self) -> DeviceStatus:
        self.calls += 1
        self.release.wait(30)
        return DeviceStatus(DeviceState.ONLINE)


class CameraWithMetrics(Device):
    kind = "camera"

    def open(self) -> None: ...

    def close(self) -> None: ...

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.ONLINE)

    def metrics(self) -> dict[str, Any]:
        return {"fps": 14.8, "last_frame_at": 1_800_000_000.0}


def test_snapshot_of_simulated_devices(kiosk_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from kiosk.devices.registry import FACTORIES

    monkeypatch.setitem(FACTORIES["scanner"], "none", "kiosk.devices.none:AbsentDevice")
    cfg = kiosk_config.with_section("devices", receipt="sim://?paper=low",
                                    a4="sim://?media=empty", idcard="sim://?card=chen",
                                    scanner="none://")
    rt = Runtime.create(cfg)
    rt.open_devices()
    try:
        snap = collect(rt)
    finally:
        rt.close()
    by = {d.kind: d for d in snap.devices}
    assert set(by) == {"idcard", "sscard", "receipt", "a4", "scanner", "camera", "microphone",
                       "speaker"}
    assert by["receipt"].details == ("paper_low",) and by["receipt"].warning
    assert not by["receipt"].fault
    assert by["a4"].fault and "paper_out" in by["a4"].details
    assert by["idcard"].details == ("card_present",) and not by["idcard"].fault
    assert not by["scanner"].fitted and not by["scanner"].fault  # AbsentDevice: not a fault
    assert [d.kind for d in snap.faults()] == ["a4"]
    d = snap.to_dict()
    assert d["disk"]["free_mb"] > 0 and d["app_version"] and d["uptime_s"] >= 0
    assert d["packages"]["active"]


def test_closed_device_is_offline_fault(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime.create(kiosk_config)  # never opened
    receipt = collect(rt).device("receipt")
    assert receipt is not None and receipt.state == "offline" and receipt.fault


def test_a_hanging_status_call_is_bounded_and_does_not_pile_up_threads() -> None:
    dev = HangingDevice()
    prober = StatusProber()
    try:
        for _ in range(4):
            h = device_health("receipt", dev, prober, timeout_s=0.05)
            assert h.state == "busy" and "status_timeout" in h.details and h.warning
        assert dev.calls == 1  # the stuck call is waited on, never asked again meanwhile
        alive = [t for t in threading.enumerate() if t.name == "status-receipt"]
        assert len(alive) == 1
    finally:
        dev.release.set()
    for t in [t for t in threading.enumerate() if t.name == "status-receipt"]:
        t.join(5)
    assert device_health("receipt", dev, prober, timeout_s=5).state == "online"


def test_metrics_are_shown(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    cam = CameraWithMetrics(DeviceUri.parse("opencv://0"))
    h = device_health("camera", cam, StatusProber())
    assert h.metrics["fps"] == 14.8 and h.to_dict()["metrics"]["last_frame_at"]


def test_passwords_never_leave_the_uri() -> None:
    assert safe_uri("ipp://kiosk:s3cret@10.0.0.5:631/ipp/print") == \
        "ipp://kiosk@10.0.0.5:631/ipp/print"
    assert safe_uri("sim://?paper=low") == "sim://?paper=low"


def test_last_error_is_masked(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    handler = install_last_error_handler()
    logging.getLogger("kiosk.test").error("print failed for 441900199001011234 tel 13812345678")
    assert handler.last is not None
    msg = handler.last["message"]
    assert "441900199001011234" not in msg and "4419**********1234" in msg
    assert "13812345678" not in msg and "138****5678" in msg
    rt = Runtime.create(kiosk_config)
    assert collect(rt).last_error["logger"] == "kiosk.test"  # type: ignore[index]


def test_camera_fps_and_scanner_last_read_are_measured(kiosk_config, wait_until) -> None:  # type: ignore[no-untyped-def]
    """Worked out from frame sequence numbers and read events (the code is never kept)."""
    import time

    rt = Runtime.create(kiosk_config.with_section("devices", camera="sim://?fps=20"))
    rt.open_devices()
    prober = StatusProber()
    cam, scanner = rt.devices["camera"], rt.devices["scanner"]
    assert isinstance(cam, Camera) and isinstance(scanner, ScriptableScanner)
    unsubscribe = cam.subscribe(lambda _f: None)  # someone watches: the camera captures
    try:
        wait_until(lambda: cam.latest() is not None, what="first frame")
        device_health("camera", cam, prober)
        time.sleep(0.3)
        fps = device_health("camera", cam, prober).metrics["fps"]
        assert 5 < fps < 60 and device_health("camera", cam, prober).metrics["frame"] == "640x480"
        assert device_health("scanner", scanner, prober).metrics == {"reads": 0}
        scanner.scan("SECRET-TOKEN-1234567890")
        wait_until(lambda: device_health("scanner", scanner, prober).metrics["reads"] == 1)
        m = device_health("scanner", scanner, prober).metrics
        assert abs(m["last_read_at"] - time.time()) < 60 and "SECRET" not in repr(m)
    finally:
        unsubscribe()
        prober.close()
        rt.close()
