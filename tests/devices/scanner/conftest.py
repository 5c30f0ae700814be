"""Scanner fixtures: a scanner emulator on a pty and a scanner service opened on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emulators.scanner_emulator import ScannerEmulator


@pytest.fixture
def emulator(tmp_path) -> Iterator[ScannerEmulator]:  # type: ignore[no-untyped-def]
    emu = ScannerEmulator(tmp_path / "ttyQR").start()
    yield emu
    emu.stop()


@pytest.fixture
def make_scanner(emulator) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    from kiosk.devices.registry import create_device

    opened = []

    def make(query: str = "suffix=CR") -> object:
        dev = create_device("scanner", f"qr+serial://{emulator.link}?reconnect_ms=50&{query}")
        dev.open()
        opened.append(dev)
        return dev

    yield make
    for dev in opened:
        dev.close()
