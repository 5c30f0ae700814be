"""The 256-byte text block: resident, J, I and Y layouts, code tables, check digit, 长期."""

from __future__ import annotations

from datetime import date

import pytest

from emulators.sam_emulator import text_block
from kiosk.devices.idcard.card_text import (
    ETHNICITIES,
    CardType,
    TextBlockError,
    decode_text_block,
    to_identity,
)
from kiosk.identity import Gender, IdentitySource, gb11643_check_digit
from synthetic.cards import CARDS


def block(fields: dict[int, tuple[int, str]]) -> bytes:
    """Spec-derived encoder: {offset: (size, text)} -> UCS-2LE, space padded."""
    b = bytearray(b"\x20\x00" * 128)
    for offset, (size, text) in fields.items():
        raw = text.encode("utf-16-le")
        assert len(raw) <= size, (offset, text)
        b[offset:offset + size] = raw + b"\x20\x00" * ((size - len(raw)) // 2)
    return bytes(b)


ID = "11010519491231002X"  # the standard's own worked example


def resident(**over: tuple[int, str]) -> dict[int, tuple[int, str]]:
    f = {0: (30, "张三"), 30: (2, "1"), 32: (4, "01"), 36: (16, "19491231"),
         52: (70, "北京市西城区某街道1号"), 122: (36, ID), 158: (30, "北京市公安局西城分局"),
         188: (16, "20100101"), 204: (16, "20300101")}
    f.update({int(k[1:]): v for k, v in over.items()})
    return f


def test_resident_block_byte_vector() -> None:
    raw = block(resident())
    # Literal bytes at the spec offsets: 张 U+5F20, gender '1', ethnicity '01', flag ' '.
    assert raw[0:4] == bytes.fromhex("205F 094E".replace(" ", ""))
    assert raw[30:32] == bytes.fromhex("3100")
    assert raw[32:36] == bytes.fromhex("30003100")
    assert raw[248:250] == bytes.fromhex("2000")
    t = decode_text_block(raw)
    assert t.card_type is CardType.RESIDENT
    assert (t.name, t.gender, t.ethnicity, t.birth_date) == ("张三", Gender.MALE, "01",
                                                              date(1949, 12, 31))
    assert t.address == "北京市西城区某街道1号" and t.issuer == "北京市公安局西城分局"
    assert t.id_number == ID
    assert (t.valid_from, t.valid_to) == (date(2010, 1, 1), date(2030, 1, 1))


def test_long_term_validity() -> None:
    raw = block(resident(o204=(16, "长期")))
    assert raw[204:208] == bytes.fromhex("7F951F67")  # 长 U+957F, 期 U+671F
    assert decode_text_block(raw).valid_to is None


@pytest.mark.parametrize("code,gender", [("0", Gender.UNKNOWN), ("1", Gender.MALE),
                                         ("2", Gender.FEMALE), ("9", Gender.UNSPECIFIED)])
def test_gender_codes(code: str, gender: Gender) -> None:
    assert decode_text_block(block(resident(o30=(2, code)))).gender is gender


@pytest.mark.parametrize("code", sorted(ETHNICITIES))
def test_every_ethnicity_code(code: str) -> None:
    assert decode_text_block(block(resident(o32=(4, code)))).ethnicity == code


def test_ethnicity_table_is_complete() -> None:
    assert len(ETHNICITIES) == 58  # 56 ethnic groups + 其他 + 外国血统中国籍人士
    assert ETHNICITIES["01"] == "汉" and ETHNICITIES["46"] == "德昂"


@pytest.mark.parametrize("over,field", [
    ({"o122": (36, ID[:-1] + "1")}, "id_number"),  # wrong check digit
    ({"o122": (36, "1101051949123100")}, "id_number"),
    ({"o30": (2, "5")}, "gender"),
    ({"o32": (4, "77")}, "ethnicity"),
    ({"o36": (16, "19491331")}, "birth_date"),
    ({"o188": (16, "2010-1-1")}, "valid_from"),
    ({"o204": (16, "永久")}, "valid_to"),
    ({"o0": (30, "")}, "name"),
    ({"o248": (2, "Q")}, "card_type"),
])
def test_bad_fields_are_typed_errors(over: dict[str, tuple[int, str]], field: str) -> None:
    with pytest.raises(TextBlockError) as exc:
        decode_text_block(block(resident(**over)))
    assert exc.value.field == field


def test_wrong_block_size_and_bad_ucs2() -> None:
    with pytest.raises(TextBlockError):
        decode_text_block(bytes(255))
    raw = bytearray(block(resident()))
    raw[0:2] = b"\x00\xd8"  # lone high surrogate
    with pytest.raises(TextBlockError):
        decode_text_block(bytes(raw))


def test_hk_macau_taiwan_permit_J() -> None:
    number = "81000019910923024"
    number += gb11643_check_digit(number)
    raw = block({**resident(o0=(30, "林嘉欣"), o30=(2, "2"), o32=(4, ""), o122=(36, number)),
                 220: (18, "H60283917"), 238: (4, "02"), 248: (2, "J")})
    t = decode_text_block(raw)
    assert t.card_type is CardType.HMT_PERMIT
    assert (t.id_number, t.pass_number, t.extra["issue_count"]) == (number, "H60283917", "02")
    assert t.ethnicity == ""


def test_foreigner_permanent_residence_card_2017_I() -> None:
    raw = block({0: (120, "SMITH, JOHN ROBERT"), 120: (2, "1"), 122: (30, "CAN441980070112"),
                 152: (6, "CAN"), 158: (30, "史密斯"), 188: (16, "20181015"),
                 204: (16, "20281015"), 220: (16, "19800701"), 236: (4, "01"),
                 240: (8, "4419"), 248: (2, "I")})
    t = decode_text_block(raw)
    assert t.card_type is CardType.FOREIGN_2017
    assert (t.english_name, t.name, t.id_number, t.nationality) == (
        "SMITH, JOHN ROBERT", "史密斯", "CAN441980070112", "CAN")
    assert t.birth_date == date(1980, 7, 1) and t.issuer == "4419"
    assert t.extra["card_version"] == "01"


def test_foreigner_2017_rejects_bad_permit_number_and_nationality() -> None:
    base = {0: (120, "A B"), 120: (2, "1"), 122: (30, "CAN441980070112"), 152: (6, "CAN"),
            188: (16, "20181015"), 204: (16, "20281015"), 220: (16, "19800701"),
            248: (2, "I")}
    with pytest.raises(TextBlockError, match="id_number"):
        decode_text_block(block({**base, 122: (30, "CAN44198")}))
    with pytest.raises(TextBlockError, match="nationality"):
        decode_text_block(block({**base, 152: (6, "C1")}))


def test_foreigner_permanent_residence_id_card_2023_Y_splits_english_name() -> None:
    number = "94439219900615021"
    number += gb11643_check_digit(number)
    english = "TANAKA HANAKO ELIZABETH MARIE LOUISE"  # 36 characters: crosses the split
    raw = block({0: (30, "田中花子"), 30: (2, "2"), 32: (4, "00"), 36: (16, "19900615"),
                 52: (70, english[:35]), 122: (36, number), 188: (16, "20231201"),
                 204: (16, "20331201"), 220: (22, english[35:]), 242: (6, "JPN"),
                 248: (2, "Y"), 250: (6, "000")})
    t = decode_text_block(raw)
    assert t.card_type is CardType.FOREIGN_2023
    assert t.english_name == english and t.nationality == "JPN" and t.id_number == number
    assert t.extra["renewal_count"] == "00"


def test_foreigner_2023_number_needs_a_valid_check_digit() -> None:
    raw = block({0: (30, "田中"), 30: (2, "2"), 36: (16, "19900615"), 52: (70, "TANAKA"),
                 122: (36, "944392199006150210"), 188: (16, "20231201"),
                 204: (16, "20331201"), 242: (6, "JPN"), 248: (2, "Y")})
    with pytest.raises(TextBlockError, match="id_number"):
        decode_text_block(raw)


@pytest.mark.parametrize("key", sorted(CARDS))
def test_every_synthetic_card_decodes_to_its_data(key: str) -> None:
    """The emulator's independent encoder and our decoder agree on every card type."""
    card = CARDS[key]
    t = decode_text_block(text_block(card))
    assert t.id_number == card.number
    assert t.name == card.name and t.gender.value == card.gender
    assert t.birth_date == card.birth and t.valid_to == card.valid_to
    assert t.english_name == card.english_name and t.nationality == card.nationality
    ident = to_identity(t, b"WLT", "wlt")
    assert ident.source is IdentitySource.ID_CARD and ident.card_kind == t.card_type.value
    assert card.number not in repr(ident) and (not card.name or card.name not in repr(ident))


def test_card_text_repr_has_no_personal_data() -> None:
    t = decode_text_block(block(resident()))
    assert "张" not in repr(t) and ID not in repr(t)
