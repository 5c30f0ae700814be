"""Decode the 256-byte text block of a card read by the SAM module (pure functions).

All blocks are UCS-2 little-endian, each field right-padded with spaces. The card
type flag is the character at byte 248: space = resident ID card, `J` = Hong Kong /
Macau / Taiwan residents' residence permit, `I` = foreigner permanent residence card
(2017 design), `Y` = foreigner permanent residence ID card (2023 design).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from kiosk.identity import Gender, Identity, IdentitySource, is_valid_id_number

TEXT_LEN = 256
LONG_TERM = "长期"

ETHNICITIES: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他",
    "98": "外国血统中国籍人士",
}

GENDERS: dict[str, Gender] = {g.value: g for g in Gender}


class CardType(str, Enum):
    RESIDENT = "resident"
    HMT_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证, flag J
    FOREIGN_2017 = "foreign_permanent_2017"  # 外国人永久居留证, flag I
    FOREIGN_2023 = "foreign_permanent_2023"  # 外国人永久居留身份证, flag Y


FLAGS: dict[str, CardType] = {" ": CardType.RESIDENT, "": CardType.RESIDENT,
                              "J": CardType.HMT_PERMIT, "I": CardType.FOREIGN_2017,
                              "Y": CardType.FOREIGN_2023}


class TextBlockError(ValueError):
    """The text block is not a well-formed card record (field says which)."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class CardText:
    """Decoded fields of one card; personal data, so the repr shows none of it."""

    card_type: CardType
    name: str  # Chinese name (may be empty on foreigner cards without one)
    gender: Gender
    birth_date: date
    id_number: str  # resident/J/Y: 18-character number; I: 15-character permit number
    valid_from: date
    valid_to: date | None  # None = 长期
    ethnicity: str = ""  # two-digit code (resident cards only)
    address: str = ""
    issuer: str = ""  # issuing authority (resident/J) or authority code (I)
    english_name: str = ""
    nationality: str = ""
    pass_number: str = ""  # J: HK/Macau/Taiwan travel permit number
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"CardText({self.card_type.value})"


def _raw(block: bytes, offset: int, size: int) -> str:
    try:
        return block[offset:offset + size].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise TextBlockError(f"bytes {offset}..{offset + size}", "not UCS-2") from exc


def _field(block: bytes, offset: int, size: int) -> str:
    return _raw(block, offset, size).replace("\x00", " ").strip()


def _date(value: str, name: str) -> date:
    if len(value) != 8 or not value.isdigit():
        raise TextBlockError(name, "not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise TextBlockError(name, "impossible date") from exc


def _valid_to(value: str) -> date | None:
    if value.startswith(LONG_TERM):
        return None
    return _date(value, "valid_to")


def _gender(code: str) -> Gender:
    try:
        return GENDERS[code]
    except KeyError:
        raise TextBlockError("gender", "unknown code") from None


def card_type_of(block: bytes) -> CardType:
    if len(block) != TEXT_LEN:
        raise TextBlockError("block", f"{len(block)} bytes, expected {TEXT_LEN}")
    flag = _field(block, 248, 2)
    try:
        return FLAGS[flag]
    except KeyError:
        raise TextBlockError("card_type", "unknown type flag") from None


def _checked_id(number: str) -> str:
    if not is_valid_id_number(number):
        raise TextBlockError("id_number", "fails the GB 11643 check digit")
    return number.upper()


def decode_text_block(block: bytes) -> CardText:
    """Decode a 256-byte block of any supported card type; raise TextBlockError."""
    kind = card_type_of(block)
    if kind in (CardType.RESIDENT, CardType.HMT_PERMIT):
        return _decode_resident_like(block, kind)
    if kind is CardType.FOREIGN_2017:
        return _decode_foreign_2017(block)
    return _decode_foreign_2023(block)


def _decode_resident_like(block: bytes, kind: CardType) -> CardText:
    name = _field(block, 0, 30)
    if not name:
        raise TextBlockError("name", "empty")
    ethnicity = _field(block, 32, 4)
    if kind is CardType.RESIDENT and ethnicity not in ETHNICITIES:
        raise TextBlockError("ethnicity", "unknown code")
    extra: dict[str, str] = {}
    pass_number = ""
    if kind is CardType.HMT_PERMIT:
        pass_number = _field(block, 220, 18)
        extra["issue_count"] = _field(block, 238, 4)
        ethnicity = ethnicity if ethnicity in ETHNICITIES else ""
    return CardText(
        card_type=kind, name=name, gender=_gender(_field(block, 30, 2)),
        birth_date=_date(_field(block, 36, 16), "birth_date"),
        id_number=_checked_id(_field(block, 122, 36)),
        valid_from=_date(_field(block, 188, 16), "valid_from"),
        valid_to=_valid_to(_field(block, 204, 16)),
        ethnicity=ethnicity, address=_field(block, 52, 70), issuer=_field(block, 158, 30),
        pass_number=pass_number, extra=extra,
    )


def _decode_foreign_2017(block: bytes) -> CardText:
    english = _field(block, 0, 120)
    number = _field(block, 122, 30)
    if len(number) != 15 or not number.isalnum():
        raise TextBlockError("id_number", "permit number is not 15 characters")
    if not english:
        raise TextBlockError("english_name", "empty")
    return CardText(
        card_type=CardType.FOREIGN_2017, name=_field(block, 158, 30),
        gender=_gender(_field(block, 120, 2)),
        birth_date=_date(_field(block, 220, 16), "birth_date"),
        id_number=number.upper(),
        valid_from=_date(_field(block, 188, 16), "valid_from"),
        valid_to=_valid_to(_field(block, 204, 16)),
        issuer=_field(block, 240, 8), english_name=english,
        nationality=_nationality(_field(block, 152, 6)),
        extra={"card_version": _field(block, 236, 4)},
    )


def _decode_foreign_2023(block: bytes) -> CardText:
    # The English name is split: characters 1..35 at 52, 36..46 at 220.
    english = (_raw(block, 52, 70) + _raw(block, 220, 22)).replace("\x00", " ").strip()
    if not english:
        raise TextBlockError("english_name", "empty")
    return CardText(
        card_type=CardType.FOREIGN_2023, name=_field(block, 0, 30),
        gender=_gender(_field(block, 30, 2)),
        birth_date=_date(_field(block, 36, 16), "birth_date"),
        id_number=_checked_id(_field(block, 122, 36)),
        valid_from=_date(_field(block, 188, 16), "valid_from"),
        valid_to=_valid_to(_field(block, 204, 16)),
        english_name=" ".join(english.split()),
        nationality=_nationality(_field(block, 242, 6)),
        extra={"renewal_count": _field(block, 32, 4),
               "previous_permit": _field(block, 250, 6)},
    )


def _nationality(code: str) -> str:
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise TextBlockError("nationality", "not a 3-letter code")
    return code.upper()


def to_identity(text: CardText, photo: bytes | None = None, photo_format: str = "",
                extra: dict[str, Any] | None = None) -> Identity:
    """The common identity model for a decoded card."""
    return Identity(
        source=IdentitySource.ID_CARD, id_number=text.id_number,
        name=text.name or text.english_name, gender=text.gender, birth_date=text.birth_date,
        ethnicity=text.ethnicity, address=text.address, card_kind=text.card_type.value,
        valid_from=text.valid_from, valid_to=text.valid_to, issuer=text.issuer,
        photo=photo or None, photo_format=photo_format if photo else "",
        english_name=text.english_name, nationality=text.nationality,
        pass_number=text.pass_number, extra={**text.extra, **(extra or {})},
    )
