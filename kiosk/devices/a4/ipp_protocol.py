"""IPP/1.1–2.0 message encoding and decoding (RFC 8010), pure functions over bytes.

Only what a kiosk needs: requests with operation/job attribute groups and a
document, responses decoded into groups of name -> list of values (collections
become dicts). Malformed input raises `IppDecodeError`, never anything else.

Why not a library: the PyPI IPP clients (pyipp, aioipp) are asyncio/aiohttp
monitoring clients without job submission helpers, pkipplib is unmaintained
Python 2 code, and pycups needs libcups headers; ~200 lines of codec are easier
to test and fuzz than any of them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class IppDecodeError(ValueError):
    pass


class Op(IntEnum):
    PRINT_JOB = 0x0002
    VALIDATE_JOB = 0x0004
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_JOBS = 0x000A
    GET_PRINTER_ATTRIBUTES = 0x000B


class GroupTag(IntEnum):
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED = 0x05


# RFC 8010 3.5.1: delimiter tag 0x00 is reserved and defines no group, so a message that
# holds one is malformed (CUPS refuses it too); 0x01-0x05 are defined, and 0x06-0x0F are
# reserved for future delimiters that a newer peer may send: those are kept as groups (as
# CUPS does), so an extension group does not make the whole answer unreadable.
RESERVED_DELIMITER = 0x00


class Tag(IntEnum):
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEG_COLLECTION = 0x34
    TEXT_WITH_LANG = 0x35
    NAME_WITH_LANG = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME = 0x49
    MEMBER_NAME = 0x4A


class JobState(IntEnum):
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def terminal(self) -> bool:
        return self >= JobState.CANCELED


class PrinterState(IntEnum):
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


_STRING_TAGS = {Tag.TEXT, Tag.NAME, Tag.KEYWORD, Tag.URI, Tag.URI_SCHEME, Tag.CHARSET,
                Tag.LANGUAGE, Tag.MIME, Tag.MEMBER_NAME}

Value = Any  # int | bool | str | bytes | tuple | dict
RequestAttribute = tuple[int, str, Value]  # (Tag, name, value or [values]) in a request
RequestGroup = tuple[int, list[RequestAttribute]]  # (GroupTag, attributes)


@dataclass(frozen=True)
class Attribute:
    name: str
    tag: int
    values: tuple[Value, ...]


@dataclass
class IppMessage:
    version: tuple[int, int]
    code: int  # operation-id in requests, status-code in responses
    request_id: int
    groups: list[tuple[int, dict[str, list[Value]]]] = field(default_factory=list)
    data: bytes = b""

    def group(self, tag: int) -> dict[str, list[Value]]:
        """Attributes of the first group with that tag ({} if none)."""
        for t, attrs in self.groups:
            if t == tag:
                return attrs
        return {}

    def first(self, tag: int, name: str, default: Value = None) -> Value:
        values = self.group(tag).get(name)
        return values[0] if values else default

    @property
    def ok(self) -> bool:
        return self.code < 0x0100

    @property
    def status_message(self) -> str:
        return str(self.first(GroupTag.OPERATION, "status-message", "") or "")


# -- encoding -------------------------------------------------------------------------------
def _encode_value(tag: int, value: Value) -> bytes:
    if tag in (Tag.INTEGER, Tag.ENUM):
        return struct.pack(">i", int(value))
    if tag == Tag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
        return b""
    if tag == Tag.RANGE:
        return struct.pack(">ii", int(value[0]), int(value[1]))
    if tag == Tag.RESOLUTION:
        return struct.pack(">iib", int(value[0]), int(value[1]), int(value[2]))
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def encode_attribute(tag: int, name: str, values: Value | list[Value]) -> bytes:
    vals = values if isinstance(values, list) else [values]
    out = bytearray()
    for i, v in enumerate(vals):
        n = name.encode("utf-8") if i == 0 else b""
        body = _encode_value(tag, v)
        if len(n) > 0xFFFF or len(body) > 0xFFFF:
            raise ValueError(f"IPP attribute {name!r} too long")
        out += struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(body)) + body
    return bytes(out)


def encode_request(op: int, request_id: int,
                   groups: list[RequestGroup],
                   data: bytes = b"", version: tuple[int, int] = (2, 0)) -> bytes:
    """groups: [(GroupTag, [(Tag, name, value or [values]), ...]), ...]."""
    out = bytearray(struct.pack(">BBHI", version[0], version[1], op, request_id))
    for gtag, attrs in groups:
        out.append(gtag)
        for tag, name, value in attrs:
            out += encode_attribute(tag, name, value)
    out.append(GroupTag.END)
    return bytes(out) + data


def operation_attributes(printer_uri: str, user: str = "kiosk",
                         extra: list[RequestAttribute] | None = None) -> RequestGroup:
    """The operation group every request starts with (charset, language, printer-uri)."""
    attrs: list[RequestAttribute] = [
        (Tag.CHARSET, "attributes-charset", "utf-8"),
        (Tag.LANGUAGE, "attributes-natural-language", "zh-cn"),
        (Tag.URI, "printer-uri", printer_uri),
        (Tag.NAME, "requesting-user-name", user),
    ]
    return GroupTag.OPERATION, attrs + list(extra or [])


# -- decoding -------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise IppDecodeError(f"truncated at byte {self.pos} (need {n})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")


def _decode_value(tag: int, raw: bytes) -> Value:
    try:
        if tag in (Tag.INTEGER, Tag.ENUM):
            if len(raw) != 4:
                raise IppDecodeError(f"integer of {len(raw)} bytes")
            return struct.unpack(">i", raw)[0]
        if tag == Tag.BOOLEAN:
            if len(raw) != 1:
                raise IppDecodeError("boolean not 1 byte")
            return raw != b"\x00"
        if tag == Tag.RANGE:
            if len(raw) != 8:
                raise IppDecodeError("rangeOfInteger not 8 bytes")
            return struct.unpack(">ii", raw)
        if tag == Tag.RESOLUTION:
            if len(raw) != 9:
                raise IppDecodeError("resolution not 9 bytes")
            return struct.unpack(">iib", raw)
        if tag in (Tag.TEXT_WITH_LANG, Tag.NAME_WITH_LANG):
            r = _Reader(raw)
            r.take(r.u16())
            return r.take(r.u16()).decode("utf-8", errors="replace")
        if tag in _STRING_TAGS or 0x40 <= tag <= 0x5F:
            return raw.decode("utf-8", errors="replace")
        if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
            return None
        return bytes(raw)  # octetString, dateTime and unknown tags stay raw
    except struct.error as exc:  # pragma: no cover (lengths are checked above)
        raise IppDecodeError(str(exc)) from exc


def _read_attr(r: _Reader) -> tuple[int, str, bytes]:
    tag = r.u8()
    if tag == 0x7F:
        raise IppDecodeError("extended value tags are not supported")
    name = r.take(r.u16()).decode("utf-8", errors="replace")
    return tag, name, r.take(r.u16())


def _read_collection(r: _Reader, depth: int) -> dict[str, list[Value]]:
    if depth > 16:
        raise IppDecodeError("collections nested too deeply")
    out: dict[str, list[Value]] = {}
    member: str | None = None
    while True:
        if r.pos >= len(r.data):
            raise IppDecodeError("unterminated collection")
        if r.data[r.pos] < 0x10:
            raise IppDecodeError("group tag inside a collection")
        tag, _name, raw = _read_attr(r)
        if tag == Tag.END_COLLECTION:
            return out
        if tag == Tag.MEMBER_NAME:
            member = raw.decode("utf-8", errors="replace")
            out.setdefault(member, [])
            continue
        if member is None:
            raise IppDecodeError("collection value without a member name")
        value = _read_collection(r, depth + 1) if tag == Tag.BEG_COLLECTION \
            else _decode_value(tag, raw)
        out[member].append(value)


def decode_message(data: bytes) -> IppMessage:
    """Decode a request or response. Raises IppDecodeError on anything malformed."""
    r = _Reader(bytes(data))
    major, minor = r.u8(), r.u8()
    code = r.u16()
    request_id = int.from_bytes(r.take(4), "big")
    msg = IppMessage((major, minor), code, request_id)
    current: dict[str, list[Value]] | None = None
    last: str | None = None
    while True:
        if r.pos >= len(r.data):
            raise IppDecodeError("missing end-of-attributes tag")
        b = r.data[r.pos]
        if b < 0x10:  # delimiter
            r.pos += 1
            if b == RESERVED_DELIMITER:
                raise IppDecodeError("delimiter tag 0x00 is reserved (RFC 8010 3.5.1)")
            if b == GroupTag.END:
                msg.data = r.data[r.pos:]
                return msg
            current, last = {}, None
            msg.groups.append((b, current))
            continue
        if current is None:
            raise IppDecodeError("attribute before any group tag")
        tag, name, raw = _read_attr(r)
        if name:
            last = name
        elif last is None:
            raise IppDecodeError("additional value without an attribute")
        value = _read_collection(r, 1) if tag == Tag.BEG_COLLECTION else _decode_value(tag, raw)
        current.setdefault(last, []).append(value)
