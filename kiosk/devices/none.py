"""A placeholder for a device kind this terminal has not fitted (state `no_device`)."""

from __future__ import annotations

from kiosk.devices.base import Device, DeviceState, DeviceStatus


class AbsentDevice(Device):
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.NO_DEVICE)
