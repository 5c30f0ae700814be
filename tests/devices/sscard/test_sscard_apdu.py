"""Social-security card APDUs as byte vectors; 61xx/6Cxx handling; EF05/EF06 decoding; fuzzing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.sscard.apdu import (
    EF05,
    EF05_ITEMS,
    EF06,
    EF06_ITEMS,
    LAYOUT_ORDER,
    MAX_GET_RESPONSE,
    MAX_POSITIONS,
    SSSE_AID,
    SW_ERRORS,
    ApduError,
    CardInfo,
    Holder,
    Layout,
    Response,
    SwClass,
    classify,
    decode_ef05,
    decode_ef06,
    exchange,
    get_response,
    layout_order,
    read_ef,
    read_record,
    read_record_by_id,
    record_value,
    select_by_name,
    select_ef,
    to_identity,
    with_le,
)
from kiosk.identity import Gender, IdentitySource, is_valid_id_number

H = bytes.fromhex

COMMANDS = [
    (select_by_name(SSSE_AID), "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"),
    (select_ef(EF05), "00 A4 02 00 02 EF 05"),
    (select_ef(EF06), "00 A4 02 00 02 EF 06"),
    (read_record(0x07, 11), "00 B2 07 04 0B"),  # card number
    (read_record(0x08, 20), "00 B2 08 04 14"),  # social security number
    (read_record(0x09, 32), "00 B2 09 04 20"),  # name
    (get_response(0x13), "00 C0 00 00 13"),
    (with_le(read_record(0x09, 32), 0x22), "00 B2 09 04 22"),
    (read_record_by_id(0x08, 20), "00 B2 08 00 14"),  # SSN by record identifier
    (read_record(0x01, 0), "00 B2 01 04 00"),  # first record by position, whole record
]


@pytest.mark.parametrize("apdu,hexstr", COMMANDS, ids=[h for _, h in COMMANDS])
def test_command_vectors(apdu: bytes, hexstr: str) -> None:
    assert apdu == H(hexstr)


def test_item_lengths_give_the_le_of_the_spec() -> None:
    le = {i.tag: i.length + 2 for i in EF05_ITEMS + EF06_ITEMS}
    assert le == {0x01: 18, 0x02: 3, 0x03: 6, 0x04: 14, 0x05: 6, 0x06: 6, 0x07: 11,
                  0x08: 20, 0x09: 32, 0x4E: 22, 0x0A: 3, 0x0B: 3, 0x0C: 5, 0x0D: 6}


@pytest.mark.parametrize("sw,cls", [(0x9000, SwClass.OK), (0x6113, SwClass.MORE),
                                    (0x6C22, SwClass.WRONG_LE), (0x6A82, SwClass.ERROR),
                                    (0x9001, SwClass.ERROR), (0x6282, SwClass.ERROR)])
def test_status_word_classes(sw: int, cls: SwClass) -> None:
    assert classify(sw >> 8, sw & 0xFF) is cls


ERROR_TABLE = [
    (0x6A82, "sscard.not_ss_card", True), (0x6A83, "sscard.invalid_card", False),
    (0x6A81, "sscard.unsupported_card", True), (0x6A86, "sscard.read_failed", True),
    (0x6D00, "sscard.unsupported_card", True), (0x6E00, "sscard.unsupported_card", True),
    (0x6700, "sscard.read_failed", True), (0x6982, "sscard.access_denied", False),
    (0x6983, "sscard.card_locked", False), (0x6985, "sscard.access_denied", False),
    (0x6581, "sscard.card_error", True), (0x6F00, "sscard.card_error", True),
    (0x6999, "sscard.card_error", True),  # anything else
]


class Card:
    """A scripted peer: expected command -> response, in order."""

    def __init__(self, *script: tuple[str, str]) -> None:
        self.script = [(H(a), H(r)) for a, r in script]
        self.sent: list[bytes] = []

    def __call__(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        expected, response = self.script.pop(0)
        assert apdu == expected, apdu.hex(" ")
        return response


@pytest.mark.parametrize("sw,key,retryable", ERROR_TABLE, ids=[f"{e[0]:04X}" for e in ERROR_TABLE])
def test_every_error_status_word(sw: int, key: str, retryable: bool) -> None:
    card = Card(("00 B2 08 04 14", f"{sw:04X}"))
    with pytest.raises(ApduError) as exc:
        exchange(card, read_record(0x08, 20), "read record 08")
    assert (exc.value.key, exc.value.retryable, exc.value.sw) == (key, retryable, sw)
    assert f"{sw:04X}" in exc.value.detail


def test_every_listed_status_word_has_a_test() -> None:
    assert set(SW_ERRORS) <= {e[0] for e in ERROR_TABLE}


def test_every_key_is_translated() -> None:
    from kiosk.i18n import LOCALES, Translator

    keys = {v[0] for v in SW_ERRORS.values()} | {
        "sscard.no_card", "sscard.card_removed", "sscard.card_mute", "sscard.reader_lost",
        "sscard.remove_card", "device.sscard.offline"} | {
        f"sscard.status.{e}" for e in ("present", "reading", "read", "removed", "take_out")}
    for loc in LOCALES:
        assert all(Translator(loc).has(k) for k in keys), loc


def test_61xx_is_followed_by_get_response() -> None:
    fci = "6F 11 84 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"
    card = Card(("00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF", "61 13"),
                ("00 C0 00 00 13", fci + " 90 00"))
    resp = exchange(card, select_by_name(SSSE_AID), "select")
    assert resp.data == H(fci) and resp.sw == 0x9000


def test_chained_61xx_collects_all_parts() -> None:
    card = Card(("00 B2 09 04 20", "61 04"), ("00 C0 00 00 04", "01 02 03 04 61 02"),
                ("00 C0 00 00 02", "05 06 90 00"))
    assert exchange(card, read_record(0x09, 32), "read").data == H("01 02 03 04 05 06")


def test_6Cxx_resends_with_the_right_le() -> None:
    card = Card(("00 B2 09 04 20", "6C 22"), ("00 B2 09 04 22", "09 20" + " 41" * 32 + " 90 00"))
    resp = exchange(card, read_record(0x09, 32), "read")
    assert record_value(resp.data, 0x09) == b"A" * 32


def test_6Cxx_then_61xx() -> None:
    card = Card(("00 B2 08 04 14", "6C 05"), ("00 B2 08 04 05", "61 05"),
                ("00 C0 00 00 05", "08 03 31 32 33 90 00"))
    assert record_value(exchange(card, read_record(0x08, 20), "r").data, 0x08) == b"123"


def test_endless_61xx_is_bounded() -> None:
    card = Card(("00 B2 08 04 14", "61 01"),
                *[("00 C0 00 00 01", "00 61 01")] * (MAX_GET_RESPONSE + 1))
    with pytest.raises(ApduError, match="endless"):
        exchange(card, read_record(0x08, 20), "r")


@pytest.mark.parametrize("raw", [b"", b"\x90"])
def test_response_shorter_than_a_status_word(raw: bytes) -> None:
    with pytest.raises(ApduError) as exc:
        Response.parse(raw)
    assert exc.value.key == "sscard.card_error"


@pytest.mark.parametrize("data", ["", "08", "09 02 41 42", "08 05 31 32"])
def test_malformed_records(data: str) -> None:
    with pytest.raises(ApduError) as exc:
        record_value(H(data), 0x08)
    assert exc.value.key == "sscard.invalid_card" and not exc.value.retryable


# Records as a card returns them (li: 李建国, male, 汉, born 1958-11-02 in 441900).
LI_ID = "441900195811025178"
EF05_RECORDS = {
    0x01: "01 10 44 19 00 D1 56 00 00 05 51 77 58 11 FF FF FF FF",
    0x02: "02 01 33",
    0x03: "03 04 33 2E 30 30",
    0x05: "05 04 20 14 06 18",
    0x06: "06 04 20 24 06 18",
    0x07: "07 09 44 31 39 35 38 31 31 30 32",
}
EF06_RECORDS = {
    0x08: "08 12 " + LI_ID.encode().hex(" "),
    0x09: "09 1E " + "C0 EE BD A8 B9 FA" + " 00" * 24,  # 李建国 in GBK
    0x0A: "0A 01 31",
    0x0B: "0B 01 01",
    0x0C: "0C 03 44 19 00",
    0x0D: "0D 04 19 58 11 02",
}


def values(records: dict[int, str]) -> dict[int, bytes]:
    return {tag: record_value(H(rec), tag) for tag, rec in records.items()}


def test_decode_ef05_vector() -> None:
    info = decode_ef05(values(EF05_RECORDS))
    assert info.card_id == "441900D15600000551775811" and info.card_type == "3"
    assert info.spec_version == "3.00" and info.card_number == "D19581102"
    assert (info.issued, info.expires) == (date(2014, 6, 18), date(2024, 6, 18))


def test_decode_ef06_vector_and_identity() -> None:
    holder = decode_ef06(values(EF06_RECORDS))
    assert (holder.ssn, holder.name, holder.gender) == (LI_ID, "李建国", Gender.MALE)
    assert (holder.ethnicity, holder.birthplace) == ("01", "441900")
    assert holder.birth_date == date(1958, 11, 2)
    ident = to_identity(decode_ef05(values(EF05_RECORDS)), holder)
    assert ident.source is IdentitySource.SS_CARD and ident.card_kind == "social_security"
    assert ident.card_number == "D19581102" and ident.valid_to == date(2024, 6, 18)
    assert LI_ID not in repr(ident) and "李建国" not in repr(ident) and "建" not in repr(holder)


def test_long_name_uses_the_4E_extension() -> None:
    name = "阿卜杜热依木·买买提·艾合买提江·吐尔逊"  # 40 GBK bytes: 30 + 10 in 4E
    raw = name.encode("gbk")
    assert len(raw) > 30
    recs = dict(EF06_RECORDS)
    recs[0x09] = "09 1E " + raw[:30].hex(" ")
    recs[0x4E] = "4E 14 " + (raw[30:] + b"\x20" * (20 - len(raw[30:]))).hex(" ")
    assert decode_ef06(values(recs)).name == name


@pytest.mark.parametrize("tag,record,field", [
    (0x08, "08 12 " + (LI_ID[:-1] + "0").encode().hex(" "), "GB 11643"),
    (0x09, "09 02 20 20", "empty name"),
    (0x09, "09 02 81 20", "not GBK"),
    (0x0A, "0A 01 35", "gender"),
    (0x0D, "0D 04 19 58 13 02", "not a date"),
    (0x08, "08 02 FF FE", "not ASCII"),
])
def test_bad_holder_fields(tag: int, record: str, field: str) -> None:
    recs = dict(EF06_RECORDS)
    recs[tag] = record
    with pytest.raises(ApduError, match=field) as exc:
        decode_ef06(values(recs))
    assert exc.value.key == "sscard.invalid_card"


# -- issuers' record layouts (read_ef), as byte vectors ------------------------------------

OK = " 90 00"
EF06_TAGS = [i.tag for i in EF06_ITEMS]
EF06_BY_POSITION = [t for t in EF06_TAGS if t in EF06_RECORDS]  # 08 09 0A 0B 0C 0D


def by_tag_script(p2: str, first: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """EF06 read item by item with P1 = tag and this P2; 4E (optional) is not there."""
    script = []
    for item in EF06_ITEMS:
        cmd = f"00 B2 {item.tag:02X} {p2} {item.length + 2:02X}"
        script.append((cmd, EF06_RECORDS[item.tag] + OK if item.tag in EF06_RECORDS
                       else "6A 83"))
    return script


POSITION_SCRIPT = [(f"00 B2 {n:02X} 04 00", EF06_RECORDS[t] + OK)
                   for n, t in enumerate(EF06_BY_POSITION, 1)] + [("00 B2 07 04 00", "6A 83")]


def test_the_fallback_order_and_a_remembered_layout_first() -> None:
    assert LAYOUT_ORDER == (Layout.TAG_NUMBER, Layout.IDENTIFIER, Layout.POSITION)
    assert layout_order() == LAYOUT_ORDER
    assert layout_order(Layout.POSITION) == (Layout.POSITION, Layout.TAG_NUMBER,
                                             Layout.IDENTIFIER)


def test_a_card_by_tag_number_is_read_at_once() -> None:
    card = Card(*by_tag_script("04"))
    assert read_ef(card, "EF06", EF06_ITEMS) == (Layout.TAG_NUMBER, values(EF06_RECORDS))
    assert card.script == []


def test_a_card_by_position_answers_6A83_to_record_08_and_is_read_by_position() -> None:
    card = Card(("00 B2 08 04 14", "6A 83"),  # no record number 8 in its EF06
                ("00 B2 08 00 14", "6A 81"),  # no addressing by identifier
                *POSITION_SCRIPT)
    assert read_ef(card, "EF06", EF06_ITEMS) == (Layout.POSITION, values(EF06_RECORDS))
    assert card.script == []


def test_a_remembered_position_layout_goes_straight_there() -> None:
    card = Card(*POSITION_SCRIPT)
    assert read_ef(card, "EF06", EF06_ITEMS, layout_order(Layout.POSITION))[0] \
        is Layout.POSITION
    assert card.script == []


def test_a_t0_card_by_position_gets_each_record_through_6Cxx() -> None:
    script = []
    for n, tag in enumerate(EF06_BY_POSITION, 1):
        rec = EF06_RECORDS[tag]
        size = len(H(rec))
        script += [(f"00 B2 {n:02X} 04 00", f"6C {size:02X}"),
                   (f"00 B2 {n:02X} 04 {size:02X}", rec + OK)]
    card = Card(*script, ("00 B2 07 04 00", "6A 83"))
    assert read_ef(card, "EF06", EF06_ITEMS, [Layout.POSITION]) == (Layout.POSITION,
                                                                   values(EF06_RECORDS))


def test_a_card_by_identifier() -> None:
    card = Card(("00 B2 08 04 14", "6A 81"), *by_tag_script("00"))
    assert read_ef(card, "EF06", EF06_ITEMS) == (Layout.IDENTIFIER, values(EF06_RECORDS))
    assert card.script == []


def test_a_record_of_another_item_is_not_this_layout() -> None:
    # record number 8 exists on this card but holds item 0A: the card is not by tag
    card = Card(("00 B2 08 04 14", EF06_RECORDS[0x0A] + OK), *by_tag_script("00"))
    assert read_ef(card, "EF06", EF06_ITEMS)[0] is Layout.IDENTIFIER


def test_a_card_in_no_known_layout_is_a_clear_error() -> None:
    card = Card(("00 B2 08 04 14", "6A 83"), ("00 B2 08 00 14", "6A 86"),
                ("00 B2 01 04 00", "6A 83"))
    with pytest.raises(ApduError) as exc:
        read_ef(card, "EF06", EF06_ITEMS)
    assert (exc.value.key, exc.value.retryable) == ("sscard.unsupported_card", False)
    assert exc.value.detail == ("EF06: records in no known layout (tag_number: record 08 SW "
                                "6A83; identifier: record 08 SW 6A86; position: record 1 SW "
                                "6A83)")


def test_records_by_position_with_no_known_tag_are_no_known_layout() -> None:
    card = Card(("00 B2 01 04 00", "77 01 00" + OK), ("00 B2 02 04 00", "6A 83"))
    with pytest.raises(ApduError, match="position: no record carries a known tag"):
        read_ef(card, "EF06", EF06_ITEMS, [Layout.POSITION])


@pytest.mark.parametrize("sw,key", [(0x6982, "sscard.access_denied"),
                                    (0x6983, "sscard.card_locked"),
                                    (0x6581, "sscard.card_error"),
                                    (0x6700, "sscard.read_failed")])
def test_a_card_error_on_the_first_item_is_its_answer_not_a_layout(sw: int, key: str) -> None:
    card = Card(("00 B2 08 04 14", f"{sw:04X}"))  # nothing else may be sent
    with pytest.raises(ApduError) as exc:
        read_ef(card, "EF06", EF06_ITEMS)
    assert (exc.value.key, exc.value.sw) == (key, sw) and card.script == []


def test_a_missing_record_after_the_layout_is_known_is_an_invalid_card() -> None:
    script = by_tag_script("04")
    script[3] = ("00 B2 0A 04 03", "6A 83")  # gender (required) missing
    card = Card(*script[:4])
    with pytest.raises(ApduError) as exc:
        read_ef(card, "EF06", EF06_ITEMS)
    assert (exc.value.key, exc.value.sw) == ("sscard.invalid_card", 0x6A83)


def test_a_card_by_position_without_a_required_record_is_an_invalid_card() -> None:
    card = Card(*POSITION_SCRIPT[:5], ("00 B2 06 04 00", "6A 83"))  # no 0D (birth date)
    with pytest.raises(ApduError) as exc:
        read_ef(card, "EF06", EF06_ITEMS, [Layout.POSITION])
    assert exc.value.key == "sscard.invalid_card" and "no record 0D" in exc.value.detail


def test_ef05_of_a_positional_card_reads_by_tag_number_as_its_tags_are_its_positions() -> None:
    script = [(f"00 B2 {i.tag:02X} 04 {i.length + 2:02X}",
               EF05_RECORDS[i.tag] + OK if i.tag in EF05_RECORDS else "6A 83")
              for i in EF05_ITEMS]
    assert read_ef(Card(*script), "EF05", EF05_ITEMS) == (Layout.TAG_NUMBER,
                                                          values(EF05_RECORDS))


# -- fuzzing ------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=MAX_GET_RESPONSE + 5))
def test_exchange_never_crashes_or_loops(responses: list[bytes]) -> None:
    queue = list(responses)
    sent: list[bytes] = []

    def card(apdu: bytes) -> bytes:
        sent.append(apdu)
        return queue.pop(0) if queue else b"\x6f\x00"

    try:
        resp = exchange(card, read_record(0x08, 20), "fuzz")
    except ApduError as err:
        assert err.key in {v[0] for v in SW_ERRORS.values()} | {"sscard.card_error"}
    else:
        assert resp.sw == 0x9000  # only a 90 00 answer is a success
    # the command, one 6Cxx resend and a bounded number of GET RESPONSE
    assert len(sent) <= 2 + MAX_GET_RESPONSE + 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=60))
def test_read_ef_on_any_answers_gives_every_required_item_or_a_typed_error(
        answers: list[bytes]) -> None:
    queue = list(answers)
    sent: list[bytes] = []

    def card(apdu: bytes) -> bytes:
        sent.append(apdu)
        return queue.pop(0) if queue else b"\x6a\x83"

    try:
        _layout, vals = read_ef(card, "EF06", EF06_ITEMS)
    except ApduError:
        pass
    else:
        assert {i.tag for i in EF06_ITEMS if i.required} <= vals.keys()
    per_command = 2 + MAX_GET_RESPONSE + 1
    assert len(sent) <= (2 * len(EF06_ITEMS) + MAX_POSITIONS) * per_command


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]),
                       st.binary(max_size=40)),
       st.dictionaries(st.sampled_from([0x01, 0x02, 0x03, 0x05, 0x06, 0x07]),
                       st.binary(max_size=20)))
def test_decoders_give_only_typed_errors(ef06: dict[int, bytes], ef05: dict[int, bytes]) -> None:
    try:
        holder = decode_ef06({**values(EF06_RECORDS), **ef06})
    except ApduError as err:
        assert err.key == "sscard.invalid_card"
    else:  # what it returns keeps its promises
        assert isinstance(holder, Holder) and is_valid_id_number(holder.ssn) and holder.name
    try:
        info = decode_ef05({**values(EF05_RECORDS), **ef05})
    except ApduError as err:
        assert err.key == "sscard.invalid_card"
    else:
        assert isinstance(info, CardInfo) and info.issued.year > 0 and info.expires.year > 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 255), st.booleans())
def test_record_value_never_crashes(rest: bytes, tag: int, tagged: bool) -> None:
    data = bytes((tag,)) + rest if tagged else rest  # half of them start with the tag
    try:
        value = record_value(data, tag)
    except ApduError as err:
        assert err.key == "sscard.invalid_card"
    else:
        assert data[0] == tag and value == data[2:2 + data[1]] and len(value) == data[1]
