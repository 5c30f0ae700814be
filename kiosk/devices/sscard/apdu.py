"""APDUs of the social-security card (社会保障卡) and decoding of EF05/EF06, as pure functions.

Sequence: SELECT the SSSE environment by name, SELECT EF05, READ RECORD its items,
SELECT EF06, READ RECORD its items. Records are `tag len value`, but issuers address
them in three ways (all valid ISO 7816-4; `Layout`):

- TAG_NUMBER: record number = the item's tag (`00 B2 08 04 14` reads item 08);
- IDENTIFIER: the tag as record identifier, P2 = 00 (`00 B2 08 00 14`);
- POSITION: record number = position in the EF (`00 B2 01 04 00` is EF06's first
  record, which holds item 08 on such cards).

`read_ef` tries them in LAYOUT_ORDER, per EF, at the EF's first required item, and
moves to the next layout only when the card says the record is not there that way
(6A83, 6A86, 6A81) or answers with another item's record; any other error is the
card's answer and is raised. The order: TAG_NUMBER first (most cards in the field, and
on every other kind of card EF05's tags equal its positions, so EF05 costs nothing
extra); IDENTIFIER next, because the card checks the tag itself; POSITION last,
because a record number says nothing about what the card will return, so each record
is taken by the tag it carries. A card that matches none gets `sscard.unsupported_card`.

T=0 cards may answer `61 xx` (fetch with GET RESPONSE) or `6C xx` (resend with Le=xx);
`exchange` follows both, with a bound so that a looping card cannot hang the kiosk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from kiosk.identity import Gender, Identity, IdentitySource, is_valid_id_number

SSSE_AID = b"sx1.sh." + "社会保障".encode("gbk")  # 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF
EF05 = b"\xef\x05"
EF06 = b"\xef\x06"
MAX_GET_RESPONSE = 16


@dataclass(frozen=True)
class Item:
    tag: int
    length: int  # value length; Le = length + 2
    required: bool = True


# EF05 card information; EF06 holder basic information (lengths from the card spec).
EF05_ITEMS = (Item(0x01, 16), Item(0x02, 1), Item(0x03, 4), Item(0x04, 12, False),
              Item(0x05, 4), Item(0x06, 4), Item(0x07, 9))
EF06_ITEMS = (Item(0x08, 18), Item(0x09, 30), Item(0x4E, 20, False), Item(0x0A, 1),
              Item(0x0B, 1), Item(0x0C, 3, False), Item(0x0D, 4))


class ApduError(Exception):
    """A card answer the citizen must act on: `key` is the message, `sw` the status word."""

    def __init__(self, key: str, detail: str = "", sw: int = 0, *, retryable: bool = True) -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail, self.sw, self.retryable = key, detail, sw, retryable


# --- commands ------------------------------------------------------------------------

def select_by_name(aid: bytes) -> bytes:
    return bytes((0x00, 0xA4, 0x04, 0x00, len(aid))) + aid


def select_ef(fid: bytes) -> bytes:
    return bytes((0x00, 0xA4, 0x02, 0x00, len(fid))) + fid


def read_record(number: int, le: int) -> bytes:
    """READ RECORD `number` of the current EF (P2 = 04)."""
    return bytes((0x00, 0xB2, number, 0x04, le & 0xFF))


def read_record_by_id(identifier: int, le: int) -> bytes:
    """READ RECORD, first occurrence of record identifier `identifier` (P2 = 00)."""
    return bytes((0x00, 0xB2, identifier, 0x00, le & 0xFF))


def get_response(le: int) -> bytes:
    return bytes((0x00, 0xC0, 0x00, 0x00, le & 0xFF))


def with_le(apdu: bytes, le: int) -> bytes:
    """The same case-2 command with another Le (for `6C xx`)."""
    return apdu[:4] + bytes((le & 0xFF,))


# --- responses -----------------------------------------------------------------------

@dataclass(frozen=True)
class Response:
    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ApduError("sscard.card_error", f"response of {len(raw)} bytes")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    def __repr__(self) -> str:  # card data is personal: only sizes and SW in logs
        return f"Response(sw={self.sw:04X}, {len(self.data)} bytes)"


class SwClass(str, Enum):
    OK = "ok"
    MORE = "more"  # 61 xx
    WRONG_LE = "wrong_le"  # 6C xx
    ERROR = "error"


def classify(sw1: int, sw2: int) -> SwClass:
    if (sw1, sw2) == (0x90, 0x00):
        return SwClass.OK
    if sw1 == 0x61:
        return SwClass.MORE
    if sw1 == 0x6C:
        return SwClass.WRONG_LE
    return SwClass.ERROR


# status word -> (message key, retryable, text for the log)
SW_ERRORS: dict[int, tuple[str, bool, str]] = {
    0x6A82: ("sscard.not_ss_card", True, "file or application not found"),
    0x6A83: ("sscard.invalid_card", False, "record not found"),
    0x6A81: ("sscard.unsupported_card", True, "function not supported"),
    0x6A86: ("sscard.read_failed", True, "incorrect P1 P2"),
    0x6D00: ("sscard.unsupported_card", True, "instruction not supported"),
    0x6E00: ("sscard.unsupported_card", True, "class not supported"),
    0x6700: ("sscard.read_failed", True, "wrong length"),
    0x6982: ("sscard.access_denied", False, "security status not satisfied"),
    0x6983: ("sscard.card_locked", False, "authentication method blocked"),
    0x6985: ("sscard.access_denied", False, "conditions of use not satisfied"),
    0x6581: ("sscard.card_error", True, "memory failure"),
    0x6F00: ("sscard.card_error", True, "no precise diagnosis"),
}


def error_for(sw: int, context: str) -> ApduError:
    key, retryable, text = SW_ERRORS.get(sw, ("sscard.card_error", True, "unexpected status"))
    return ApduError(key, f"{context}: SW {sw:04X} {text}", sw, retryable=retryable)


Transmit = Callable[[bytes], bytes]


def exchange(transmit: Transmit, apdu: bytes, context: str) -> Response:
    """Send one command, following `61 xx` and `6C xx`; raise ApduError on any other error."""
    resp = Response.parse(transmit(apdu))
    if classify(resp.sw1, resp.sw2) is SwClass.WRONG_LE:
        resp = Response.parse(transmit(with_le(apdu, resp.sw2)))
    data = bytearray(resp.data)
    rounds = 0
    while classify(resp.sw1, resp.sw2) is SwClass.MORE:
        rounds += 1
        if rounds > MAX_GET_RESPONSE:
            raise ApduError("sscard.card_error", f"{context}: endless 61xx")
        resp = Response.parse(transmit(get_response(resp.sw2)))
        data += resp.data
    if classify(resp.sw1, resp.sw2) is not SwClass.OK:
        raise error_for(resp.sw, context)
    return Response(bytes(data), resp.sw1, resp.sw2)


def record_value(data: bytes, tag: int) -> bytes:
    """The value of a `tag len value` record; raise ApduError if it is not one."""
    if len(data) < 2 or data[0] != tag or len(data) < 2 + data[1]:
        raise ApduError("sscard.invalid_card", f"record {tag:02X} malformed", retryable=False)
    return bytes(data[2:2 + data[1]])


# --- field decoding ----------------------------------------------------------------------

def _cn(value: bytes) -> str:
    """Compressed numeric: hex digits, F padding dropped."""
    return value.hex().upper().rstrip("F")


def _an(value: bytes, tag: int) -> str:
    try:
        return value.decode("ascii").strip("\x00 ")
    except UnicodeDecodeError:
        raise ApduError("sscard.invalid_card", f"record {tag:02X} not ASCII",
                        retryable=False) from None


def _gbk(value: bytes, tag: int) -> str:
    try:
        return value.rstrip(b"\x00\x20\xff").decode("gbk").strip()
    except UnicodeDecodeError:
        raise ApduError("sscard.invalid_card", f"record {tag:02X} not GBK",
                        retryable=False) from None


def _date(value: bytes, tag: int) -> date:
    digits = _cn(value)
    try:
        if len(digits) != 8 or not digits.isdigit():
            raise ValueError
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ApduError("sscard.invalid_card", f"record {tag:02X} not a date",
                        retryable=False) from None


@dataclass(frozen=True)
class CardInfo:
    """EF05."""

    card_id: str
    card_type: str
    spec_version: str
    issued: date
    expires: date
    card_number: str
    issuer_org: str = ""


@dataclass(frozen=True)
class Holder:
    """EF06 (personal data: the repr shows none of it)."""

    ssn: str
    name: str
    gender: Gender
    ethnicity: str
    birth_date: date
    birthplace: str = ""

    def __repr__(self) -> str:
        return "Holder(…)"


def decode_ef05(values: dict[int, bytes]) -> CardInfo:
    return CardInfo(card_id=_cn(values[0x01]), card_type=_an(values[0x02], 0x02),
                    spec_version=_an(values[0x03], 0x03), issued=_date(values[0x05], 0x05),
                    expires=_date(values[0x06], 0x06), card_number=_an(values[0x07], 0x07),
                    issuer_org=_cn(values.get(0x04, b"")))


def decode_ef06(values: dict[int, bytes]) -> Holder:
    ssn = _an(values[0x08], 0x08).upper()
    if not is_valid_id_number(ssn):
        raise ApduError("sscard.invalid_card", "social security number fails GB 11643",
                        retryable=False)
    name = _gbk(values[0x09], 0x09) + _gbk(values.get(0x4E, b""), 0x4E)
    if not name:
        raise ApduError("sscard.invalid_card", "empty name", retryable=False)
    gender_code = _an(values[0x0A], 0x0A)
    gender = {g.value: g for g in Gender}.get(gender_code)
    if gender is None:
        raise ApduError("sscard.invalid_card", "unknown gender code", retryable=False)
    ethnicity = _cn(values[0x0B]).zfill(2)
    return Holder(ssn=ssn, name=name, gender=gender, ethnicity=ethnicity,
                  birth_date=_date(values[0x0D], 0x0D), birthplace=_cn(values.get(0x0C, b"")))


def to_identity(info: CardInfo, holder: Holder) -> Identity:
    extra: dict[str, Any] = {"spec_version": info.spec_version, "card_type": info.card_type,
                             "card_id": info.card_id, "birthplace": holder.birthplace,
                             "issued": info.issued.isoformat()}
    return Identity(source=IdentitySource.SS_CARD, id_number=holder.ssn, name=holder.name,
                    gender=holder.gender, birth_date=holder.birth_date,
                    ethnicity=holder.ethnicity, card_kind="social_security",
                    valid_to=info.expires, card_number=info.card_number, extra=extra)


def read_plan() -> list[tuple[bytes, tuple[Item, ...]]]:
    """Which EF to select and which items to read from it, in order."""
    return [(EF05, EF05_ITEMS), (EF06, EF06_ITEMS)]


# --- record layouts of the issuers -------------------------------------------------------

class Layout(str, Enum):
    TAG_NUMBER = "tag_number"  # P1 = tag, P2 = 04
    IDENTIFIER = "identifier"  # P1 = tag, P2 = 00
    POSITION = "position"  # P1 = 1, 2, … in the EF, P2 = 04; each record names its tag


LAYOUT_ORDER = (Layout.TAG_NUMBER, Layout.IDENTIFIER, Layout.POSITION)
# The card's "not this way": record not found, P1-P2 wrong, addressing not supported.
NOT_THIS_WAY = frozenset({0x6A83, 0x6A86, 0x6A81})
MAX_POSITIONS = 16  # more records than any EF05/EF06 holds: a card cannot keep us reading


class LayoutMismatch(Exception):
    """The EF's first required item is not where this layout looks for it."""


def layout_order(first: Layout | None = None) -> tuple[Layout, ...]:
    """LAYOUT_ORDER, with a layout this card answered to before tried first."""
    if first is None:
        return LAYOUT_ORDER
    return (first, *(lay for lay in LAYOUT_ORDER if lay is not first))


def read_ef(transmit: Transmit, name: str, items: tuple[Item, ...],
            order: Iterable[Layout] = LAYOUT_ORDER) -> tuple[Layout, dict[int, bytes]]:
    """Read `items` of the selected EF in the first layout of `order` the card answers
    to; return that layout and the values by tag. Raise ApduError if none fits."""
    tried: list[str] = []
    for layout in order:
        try:
            if layout is Layout.POSITION:
                return layout, _read_by_position(transmit, name, items)
            return layout, _read_by_tag(transmit, name, items, layout)
        except LayoutMismatch as miss:
            tried.append(f"{layout.value}: {miss}")
    raise ApduError("sscard.unsupported_card",
                    f"{name}: records in no known layout ({'; '.join(tried)})", retryable=False)


def _read_by_tag(transmit: Transmit, name: str, items: tuple[Item, ...],
                 layout: Layout) -> dict[int, bytes]:
    command = read_record if layout is Layout.TAG_NUMBER else read_record_by_id
    first = next(i.tag for i in items if i.required)
    values: dict[int, bytes] = {}
    for item in items:
        context = f"{name} {layout.value} read record {item.tag:02X}"
        try:
            resp = exchange(transmit, command(item.tag, item.length + 2), context)
        except ApduError as err:
            if item.tag == first and err.sw in NOT_THIS_WAY:
                raise LayoutMismatch(f"record {item.tag:02X} SW {err.sw:04X}") from None
            if not item.required and err.sw in (0x6A83, 0x6A82):
                continue
            raise
        if item.tag == first and resp.data[:1] != bytes((item.tag,)):
            raise LayoutMismatch(f"record {item.tag:02X} holds tag {resp.data[:1].hex() or '-'}")
        values[item.tag] = record_value(resp.data, item.tag)
    return values


def _read_by_position(transmit: Transmit, name: str, items: tuple[Item, ...]
                      ) -> dict[int, bytes]:
    """Read records 1, 2, … until the card has no more (6A83) or every item is in;
    take each record by the tag it carries (Le 00: the whole record, 6C xx if T=0)."""
    wanted = {i.tag for i in items}
    values: dict[int, bytes] = {}
    for number in range(1, MAX_POSITIONS + 1):
        context = f"{name} position read record {number}"
        try:
            resp = exchange(transmit, read_record(number, 0), context)
        except ApduError as err:
            if err.sw == 0x6A83 and number > 1:
                break  # past the last record
            if number == 1 and err.sw in NOT_THIS_WAY:
                raise LayoutMismatch(f"record 1 SW {err.sw:04X}") from None
            raise
        tag = resp.data[0] if resp.data else -1
        if tag in wanted and tag not in values:
            values[tag] = record_value(resp.data, tag)
        if wanted <= values.keys():
            break
    missing = [i.tag for i in items if i.required and i.tag not in values]
    if len(missing) == len([i for i in items if i.required]):
        raise LayoutMismatch("no record carries a known tag")
    if missing:
        raise ApduError("sscard.invalid_card", f"{name}: no record {missing[0]:02X} "
                        f"among the records by position", retryable=False)
    return values
