"""IPP encoding/decoding (RFC 8010) with byte vectors, collections and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.a4.ipp_protocol import (
    GroupTag,
    IppDecodeError,
    Op,
    Tag,
    decode_message,
    encode_request,
    operation_attributes,
)
from kiosk.devices.a4.ipp_status import job_failure_key, printer_status
from kiosk.devices.base import DeviceState


def test_request_bytes() -> None:
    raw = encode_request(Op.GET_JOB_ATTRIBUTES, 7, [(GroupTag.OPERATION, [
        (Tag.CHARSET, "attributes-charset", "utf-8"), (Tag.INTEGER, "job-id", 3)])])
    assert raw == (b"\x02\x00\x00\x09\x00\x00\x00\x07\x01"
                   b"\x47\x00\x12attributes-charset\x00\x05utf-8"
                   b"\x21\x00\x06job-id\x00\x04\x00\x00\x00\x03\x03")


def test_round_trip_with_multiple_values_and_document() -> None:
    raw = encode_request(Op.PRINT_JOB, 1, [operation_attributes(
        "ipp://h/ipp/print", "kiosk", [(Tag.KEYWORD, "requested-attributes", ["a", "b"]),
                                       (Tag.BOOLEAN, "x", True)])], data=b"%PDF-1.4")
    msg = decode_message(raw)
    op = msg.group(GroupTag.OPERATION)
    assert msg.code == Op.PRINT_JOB and msg.data == b"%PDF-1.4"
    assert op["requested-attributes"] == ["a", "b"] and op["x"] == [True]
    assert op["printer-uri"] == ["ipp://h/ipp/print"]


def test_collection_and_text_with_language() -> None:
    body = (b"\x02\x00\x00\x00\x00\x00\x00\x01\x04"
            b"\x34\x00\x09media-col\x00\x00"
            b"\x4a\x00\x00\x00\x0amedia-size"
            b"\x34\x00\x00\x00\x00"
            b"\x4a\x00\x00\x00\x0bx-dimension"
            b"\x21\x00\x00\x00\x04\x00\x00\x52\x08"
            b"\x37\x00\x00\x00\x00"
            b"\x37\x00\x00\x00\x00"
            b"\x35\x00\x04info\x00\x0b\x00\x02en\x00\x05hello"
            b"\x03")
    msg = decode_message(body)
    printer = msg.group(GroupTag.PRINTER)
    assert printer["media-col"] == [{"media-size": [{"x-dimension": [21000]}]}]
    assert printer["info"] == ["hello"]


@pytest.mark.parametrize("raw", [b"", b"\x02\x00", b"\x02\x00\x00\x00\x00\x00\x00\x01",
                                 (b"\x02\x00\x00\x00\x00\x00\x00\x01\x01\x21\x00\x01a\x00\x02"
                                  b"\x00\x00\x03"),
                                 b"\x02\x00\x00\x00\x00\x00\x00\x01\x21\x00\x01a\x00\x04abcd\x03"])
def test_malformed_is_a_typed_error(raw: bytes) -> None:
    with pytest.raises(IppDecodeError):
        decode_message(raw)


@pytest.mark.parametrize("raw", [b"\x00\x03", b"\x01\x00\x03",
                                 b"\x01\x21\x00\x01a\x00\x04\x00\x00\x00\x01\x00\x03"])
def test_the_reserved_delimiter_tag_is_refused(raw: bytes) -> None:
    """RFC 8010 3.5.1: 0x00 is a reserved delimiter tag, not a group (hypothesis found
    b'\\x00\\x03' decoded as a group tagged 0)."""
    with pytest.raises(IppDecodeError, match="0x00 is reserved"):
        decode_message(b"\x02\x00\x00\x00\x00\x00\x00\x01" + raw)


def test_a_future_delimiter_tag_is_read_as_a_group() -> None:
    """0x06-0x0F are reserved for future delimiters: a newer printer's extension group is
    kept, and the groups around it are read as usual."""
    msg = decode_message(b"\x02\x00\x00\x00\x00\x00\x00\x01\x01\x21\x00\x01a\x00\x04"
                         b"\x00\x00\x00\x01\x0f\x21\x00\x01b\x00\x04\x00\x00\x00\x02\x03")
    assert msg.groups == [(GroupTag.OPERATION, {"a": [1]}), (0x0F, {"b": [2]})]


@given(st.binary(max_size=300))
@settings(max_examples=500)
def test_fuzz_never_crashes(raw: bytes) -> None:
    try:
        msg = decode_message(b"\x02\x00\x00\x00\x00\x00\x00\x01" + raw)
    except IppDecodeError:
        return
    # what it accepts it decoded as sent: the header, delimiter tags, the document after
    # end-of-attributes (a suffix of the bytes, never reaching into the attributes)
    assert (msg.version, msg.code, msg.request_id) == ((2, 0), 0, 1)
    assert all(0 < tag < 0x10 and tag != GroupTag.END for tag, _ in msg.groups)
    end = len(raw) - len(msg.data) - 1
    assert raw[end] == GroupTag.END and raw[end + 1:] == msg.data


@pytest.mark.parametrize("reasons,state,detail,key", [
    (["none"], DeviceState.ONLINE, None, ""),
    (["media-empty-error"], DeviceState.USER_ERROR, "paper_out", "device.a4.paper_out"),
    (["media-empty-report"], DeviceState.USER_ERROR, "paper_out", "device.a4.paper_out"),
    (["media-jam"], DeviceState.USER_ERROR, "media_jam", "device.a4.jam"),
    (["door-open-error"], DeviceState.USER_ERROR, "cover_open", "device.a4.cover_open"),
    (["cover-open"], DeviceState.USER_ERROR, "cover_open", "device.a4.cover_open"),
    (["toner-low-warning"], DeviceState.ONLINE, "toner_low", ""),
    (["offline-report"], DeviceState.OFFLINE, "offline", "device.a4.offline"),
    (["media-low-report"], DeviceState.ONLINE, "paper_low", ""),
])
def test_printer_state_reasons(reasons: list[str], state: DeviceState, detail: str | None,
                               key: str) -> None:
    from kiosk.devices.a4.ipp_status import error_key

    st_ = printer_status(3, reasons)
    assert st_.state is state
    if detail:
        assert detail in st_.details
    assert error_key(st_) == key


def test_stopped_printer_and_not_accepting() -> None:
    assert printer_status(5, ["none"]).state is DeviceState.HARDWARE_ERROR
    assert printer_status(3, [], accepting=False).state is DeviceState.OFFLINE
    assert printer_status(4, []).state is DeviceState.BUSY


def test_job_failure_keys() -> None:
    idle = printer_status(3, [])
    assert job_failure_key(["document-format-error"], idle, False) == "device.a4.bad_document"
    assert job_failure_key(["job-canceled-by-user"], idle, True) == "device.a4.cancelled"
    assert job_failure_key([], printer_status(3, ["media-jam-error"]), False) == "device.a4.jam"
