"""DLE EOT answers: each bit to the device status; no answer is unknown, never 'paper OK'."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.base import DeviceState
from kiosk.devices.receipt.escpos_status import (
    error_key,
    parse_gs_r_paper,
    parse_status,
    to_device_status,
)

OK = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}


def status(**changes: int):  # type: ignore[no-untyped-def]
    return to_device_status(parse_status({**OK, **{int(k[1:]): v for k, v in changes.items()}}))


def test_all_clear_is_online() -> None:
    st_ = status()
    assert st_.state is DeviceState.ONLINE and st_.details == frozenset()


@pytest.mark.parametrize("n,byte,state,detail", [
    ("n1", 0x12 | 0x08, DeviceState.OFFLINE, None),  # offline, no cause given
    ("n1", 0x12 | 0x20, DeviceState.ONLINE, "waiting_recovery"),
    ("n1", 0x12 | 0x40, DeviceState.ONLINE, "feed_button"),
    ("n2", 0x12 | 0x04, DeviceState.USER_ERROR, "cover_open"),
    ("n2", 0x12 | 0x08, DeviceState.ONLINE, None),  # paper being fed by the button
    ("n2", 0x12 | 0x20, DeviceState.USER_ERROR, "paper_out"),  # stopped at paper end
    ("n3", 0x12 | 0x04, DeviceState.HARDWARE_ERROR, "mechanical_error"),
    ("n3", 0x12 | 0x08, DeviceState.HARDWARE_ERROR, "cutter_error"),
    ("n3", 0x12 | 0x20, DeviceState.HARDWARE_ERROR, "unrecoverable_error"),
    ("n3", 0x12 | 0x40, DeviceState.BUSY, "recoverable_error"),
    ("n4", 0x12 | 0x0C, DeviceState.ONLINE, "paper_low"),
    ("n4", 0x12 | 0x04, DeviceState.ONLINE, "paper_low"),  # one near-end sensor bit
    ("n4", 0x12 | 0x60, DeviceState.USER_ERROR, "paper_out"),
    ("n4", 0x12 | 0x20, DeviceState.USER_ERROR, "paper_out"),
])
def test_each_bit(n: str, byte: int, state: DeviceState, detail: str | None) -> None:
    st_ = status(**{n: byte})
    assert st_.state is state
    if detail:
        assert detail in st_.details


def test_error_keys_for_the_citizen() -> None:
    assert error_key(status(n4=0x72)) == "device.receipt.paper_out"
    assert error_key(status(n2=0x16)) == "device.receipt.cover_open"
    assert error_key(status(n3=0x1A)) == "device.receipt.hardware_error"
    assert error_key(status(n1=0x1A)) == "device.receipt.offline"
    assert error_key(status(n4=0x1E)) == ""  # paper low still prints


def test_no_answer_is_unknown_not_paper_ok() -> None:
    st_ = to_device_status(parse_status({1: None}))
    assert "status_unknown" in st_.details
    assert "paper_out" not in st_.details and st_.message == "no answer to DLE EOT"
    assert parse_status({1: None}).paper_out is None


def test_bytes_with_wrong_fixed_bits_are_not_status() -> None:
    st_ = to_device_status(parse_status({1: 0xFF}))
    assert "status_unknown" in st_.details and "ff" in st_.message


def test_gs_r_answer_is_told_apart_from_dle_eot() -> None:
    assert parse_gs_r_paper(0x00) == (False, False)
    assert parse_gs_r_paper(0x03) == (True, False)
    assert parse_gs_r_paper(0x0F) == (True, True)
    assert parse_gs_r_paper(0x12) is None  # a DLE EOT answer (bit 4 set)


@given(st.dictionaries(st.integers(1, 4), st.one_of(st.none(), st.integers(0, 255))))
def test_parsing_never_crashes(replies: dict[int, int | None]) -> None:
    to_device_status(parse_status(replies))
