"""Create device services from URIs: `sim://`, `sam+serial://…`, `escpos+tcp://…`.

Factories are named by dotted path and imported lazily, so a terminal without
pyscard or OpenCV installed still starts when it does not use them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields

from kiosk.devices.base import Device, DeviceError, DeviceUri

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
}


def register(kind: str, scheme: str, target: str) -> None:
    """Register a factory (`module:Class`) for a device kind and URI scheme."""
    FACTORIES.setdefault(kind, {})[scheme] = target


def create_device(kind: str, uri: str) -> Device:
    parsed = DeviceUri.parse(uri)
    try:
        target = FACTORIES[kind][parsed.scheme]
    except KeyError:
        raise DeviceError("device.unsupported_uri", f"{kind}: no driver for {parsed.scheme}://",
                          retryable=False) from None
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    device: Device = cls(parsed)
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
                out[f.name] = create_device(f.name, uri)
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
