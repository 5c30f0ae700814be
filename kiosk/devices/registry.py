"""Create device services from URIs: `sim://`, `sam+serial://…`, `escpos+tcp://…`.

Factories are named by dotted path and imported lazily, so a terminal without
pyscard or OpenCV installed still starts when it does not use them. Each kind has a
contract (`CONTRACTS`, the Protocol in `<kind>/api.py`); a driver class is checked
against it the first time it is loaded, so a driver that breaks its kind's contract
is refused by name instead of failing later in front of a citizen.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field, fields

from kiosk.devices.a4.api import A4Printer
from kiosk.devices.base import Device, DeviceError, DeviceService, DeviceUri
from kiosk.devices.camera.api import Camera
from kiosk.devices.contracts import violations
from kiosk.devices.doccam.api import DocumentCamera
from kiosk.devices.idcard.api import IdCardReader
from kiosk.devices.microphone.api import Microphone
from kiosk.devices.receipt.api import ReceiptPrinter
from kiosk.devices.scanner.api import CodeScanner
from kiosk.devices.speaker.api import Speaker
from kiosk.devices.sscard.api import SsCardReader

CONTRACTS: dict[str, type] = {
    "idcard": IdCardReader,
    "sscard": SsCardReader,
    "receipt": ReceiptPrinter,
    "a4": A4Printer,
    "scanner": CodeScanner,
    "camera": Camera,
    "doccam": DocumentCamera,
    "microphone": Microphone,
    "speaker": Speaker,
}

FACTORIES: dict[str, dict[str, str]] = {
    "idcard": {
        "sim": "kiosk.devices.idcard.sim:SimIdCardReader",
        "sam+serial": "kiosk.devices.idcard.service:SamIdCardReader",
    },
    "sscard": {
        "sim": "kiosk.devices.sscard.sim:SimSsCardReader",
        "pcsc": "kiosk.devices.sscard.service:PcscSsCardReader",
    },
    "receipt": {
        "sim": "kiosk.devices.receipt.sim:SimReceiptPrinter",
        "escpos+tcp": "kiosk.devices.receipt.escpos:EscposReceiptPrinter",
        "escpos+serial": "kiosk.devices.receipt.escpos:EscposReceiptPrinter",
        "escpos+usb": "kiosk.devices.receipt.escpos:EscposReceiptPrinter",
    },
    "a4": {
        "sim": "kiosk.devices.a4.sim:SimA4Printer",
        "cups": "kiosk.devices.a4.cups:CupsA4Printer",
        "ipp": "kiosk.devices.a4.ipp:IppA4Printer",
    },
    "scanner": {
        "sim": "kiosk.devices.scanner.sim:SimQrScanner",
        "qr+serial": "kiosk.devices.scanner.service:SerialQrScanner",
    },
    "camera": {
        "sim": "kiosk.devices.camera.sim:SimCamera",
        "opencv": "kiosk.devices.camera.service:OpenCvCamera",
    },
    "doccam": {
        "sim": "kiosk.devices.doccam.sim:SimDocCam",
        "opencv": "kiosk.devices.doccam.service:OpenCvDocCam",
        "seq": "kiosk.devices.doccam.service:SeqDocCam",
    },
    "microphone": {
        "sim": "kiosk.devices.microphone.sim:SimMicrophone",
        "alsa": "kiosk.devices.microphone.alsa:AlsaMicrophone",
    },
    "speaker": {
        "sim": "kiosk.devices.speaker.sim:SimSpeaker",
        "alsa": "kiosk.devices.speaker.alsa:AlsaSpeaker",
    },
}


def schemes(kind: str) -> tuple[str, ...]:
    """The URI schemes a device kind can be configured with (`sim` first), for messages
    that tell a technician what would have worked."""
    names = sorted(FACTORIES.get(kind, {}), key=lambda s: (s != "sim", s))
    return tuple(names)


def kinds() -> tuple[str, ...]:
    return tuple(FACTORIES)


def register(kind: str, scheme: str, target: str) -> None:
    """Register a factory (`module:Class`) for a device kind and URI scheme."""
    FACTORIES.setdefault(kind, {})[scheme] = target


_checked: dict[tuple[str, type], list[str]] = {}
_checked_lock = threading.Lock()


def driver_class(kind: str, scheme: str) -> type[Device]:
    """The driver class registered for `kind` and `scheme` (imported, not instantiated)."""
    try:
        target = FACTORIES[kind][scheme]
    except KeyError:
        raise DeviceError("device.unsupported_uri", f"{kind}: no driver for {scheme}://",
                          retryable=False) from None
    module_name, _, cls_name = target.partition(":")
    cls: type[Device] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def contract_violations(kind: str, cls: type) -> list[str]:
    """How `cls` breaks the contract of `kind` (cached per class; empty: it keeps it).

    A placeholder for a kind the terminal has not fitted (`placeholder = True`) keeps
    only the outer shape every device has."""
    proto = DeviceService if getattr(cls, "placeholder", False) else CONTRACTS.get(kind)
    if proto is None:
        return []
    with _checked_lock:
        if (kind, cls) not in _checked:
            _checked[(kind, cls)] = violations(cls, proto)
        return _checked[(kind, cls)]


def create_device(kind: str, uri: str) -> Device:
    """Create (not open) the device a URI names; DeviceError for a URI it cannot serve:
    an unknown scheme, a query parameter the driver does not know, a broken driver."""
    try:
        parsed = DeviceUri.parse(uri)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise DeviceError("device.unsupported_uri", f"{kind}: {uri!r}: {exc}",
                          retryable=False) from None
    cls = driver_class(kind, parsed.scheme)
    broken = contract_violations(kind, cls)
    if broken:
        raise DeviceError("device.unsupported_uri", f"{kind}: {cls.__name__} does not keep "
                          f"the {CONTRACTS[kind].__name__} contract: {'; '.join(broken)}",
                          retryable=False)
    try:
        device: Device = cls(parsed)  # checks the query parameters (Device.accepted_params)
    except DeviceError:
        raise
    except ValueError as exc:  # a parameter's value: `?delay_ms=abc`, `?timeout=x`
        raise DeviceError("device.unsupported_uri", f"{kind}: {exc}", retryable=False) \
            from None
    device.kind = kind
    return device


@dataclass
class DeviceSet:
    """The devices of one terminal, created from the `[devices]` config section."""

    devices: dict[str, Device] = field(default_factory=dict)

    @classmethod
    def from_config(cls, devices_cfg: object) -> DeviceSet:
        out: dict[str, Device] = {}
        for f in fields(devices_cfg):  # type: ignore[arg-type]
            uri = getattr(devices_cfg, f.name)
            if uri:
                try:
                    out[f.name] = create_device(f.name, uri)
                except DeviceError as exc:
                    exc.kind, exc.uri = f.name, uri  # type: ignore[attr-defined]  # for messages
                    raise
        return cls(out)

    def open_all(self) -> dict[str, str]:
        """Open every device; return the ones that failed (kind -> message key)."""
        failed: dict[str, str] = {}
        for kind, dev in self.devices.items():
            try:
                dev.open()
            except DeviceError as exc:
                failed[kind] = exc.key
        return failed

    def close_all(self) -> None:
        for dev in self.devices.values():
            try:
                dev.close()
            except DeviceError:
                pass

    def get(self, kind: str) -> Device | None:
        return self.devices.get(kind)

    def __getitem__(self, kind: str) -> Device:
        try:
            return self.devices[kind]
        except KeyError:
            raise DeviceError(f"device.{kind}.not_configured", retryable=False) from None
