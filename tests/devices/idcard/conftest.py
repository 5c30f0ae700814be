"""A SAM emulator on a real pseudo-terminal pair, and our reader opened on the other end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emulators.sam_emulator import SamEmulator
from kiosk.devices.idcard.service import SamIdCardReader
from kiosk.devices.registry import create_device

# Short timing for tests; a real module gets the defaults (0.5 s / 2 s / 0.25 s).
FAST = "reply_ms=300&read_reply_ms=600&gap_ms=100&poll_ms=20"


@pytest.fixture
def sam() -> Iterator[SamEmulator]:
    emu = SamEmulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def make_reader() -> Iterator[Callable[..., SamIdCardReader]]:
    made: list[SamIdCardReader] = []

    def make(port: str, extra: str = "", open_: bool = True) -> SamIdCardReader:
        reader = create_device("idcard", f"sam+serial://{port}?{FAST}{extra}")
        assert isinstance(reader, SamIdCardReader)
        made.append(reader)
        if open_:
            reader.open()
        return reader

    yield make
    for r in made:
        r.close()


@pytest.fixture
def reader(sam: SamEmulator, make_reader) -> SamIdCardReader:  # type: ignore[no-untyped-def]
    return make_reader(sam.port)
