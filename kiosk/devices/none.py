"""A placeholder for a device kind this terminal has not fitted (state `no_device`)."""

from __future__ import annotations

from kiosk.devices.base import Device, DeviceState, DeviceStatus


class AbsentDevice(Device):
    # Only the outer shape: it stands for a kind's absence, so callers that check the
    # kind's contract (`isinstance(dev, CodeScanner)`) see that there is nothing to use.
    placeholder = True
    uri_params = frozenset()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.NO_DEVICE)
