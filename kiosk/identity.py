"""One identity model for every identification source, plus masking helpers.

Every log line, screen and screenshot that mentions a citizen goes through
`mask_id_number` / `mask_name`; `Identity.__repr__` is masked so that an identity
that slips into a log or a traceback never shows the full number or name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


class IdentitySource(str, Enum):
    ID_CARD = "id_card"
    SS_CARD = "ss_card"
    QR = "qr"
    FACE = "face"
    AUTHORISATION = "authorisation"  # a principal named by the platform for an authorisation code


class Gender(str, Enum):
    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSPECIFIED = "9"


def gb11643_check_digit(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_id_number(id_number: str) -> bool:
    """True if an 18-character resident ID number has a correct check digit."""
    s = id_number.upper()
    return bool(_ID_RE.match(s)) and gb11643_check_digit(s[:17]) == s[17]


def mask_id_number(id_number: str | None) -> str:
    """`441900199001011234` -> `4419**********1234`; short values are fully starred."""
    if not id_number:
        return ""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_name(name: str | None) -> str:
    """`张三` -> `张*`, `欧阳娜娜` -> `欧***`; keeps only the first character."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_english_name(name: str | None) -> str:
    """`CHEN XIAOMEI` -> `C*** X******`: first letter of each word only."""
    if not name:
        return ""
    return " ".join(w[0] + "*" * (len(w) - 1) if w else w for w in name.split(" "))


@dataclass(frozen=True)
class Identity:
    """A citizen identified at the terminal, held in memory for one session only."""

    source: IdentitySource
    id_number: str
    name: str
    gender: Gender = Gender.UNKNOWN
    birth_date: date | None = None
    ethnicity: str = ""
    address: str = ""
    card_kind: str = "resident"
    valid_from: date | None = None
    valid_to: date | None = None  # None with card_kind set means long-term (长期)
    issuer: str = ""
    photo: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    # Foreign and HK/Macau/Taiwan cards; social-security card number.
    english_name: str = field(default="", repr=False)
    nationality: str = ""  # ISO 3166-1 alpha-3 code on foreigner cards ("CAN")
    pass_number: str = field(default="", repr=False)  # HK/Macau/Taiwan travel permit number
    card_number: str = field(default="", repr=False)  # number printed on the card, if any
    photo_format: str = ""  # "wlt" (undecoded ID-card photo), "bmp", "" when no photo

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)

    def expired(self, today: date | None = None) -> bool:
        """True when the card's validity ended before `today` (its last day still counts);
        long-term (长期) cards and identities without a card never expire."""
        return self.valid_to is not None and self.valid_to < (today or date.today())

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    def __repr__(self) -> str:
        return (
            f"Identity(source={self.source.value}, id={self.masked_id}, "
            f"name={self.masked_name}, kind={self.card_kind})"
        )

    __str__ = __repr__

    @property
    def masked_english_name(self) -> str:
        return mask_english_name(self.english_name)

    def view(self, *, reveal: bool = False) -> IdentityView:
        """What flow data, templates, requests and records read: masked (see IdentityView)."""
        return IdentityView(self, reveal=reveal)

    def masked_view(self) -> dict[str, str]:
        """Every field a technician may see without `--show-personal-data`."""
        return {
            "source": self.source.value, "card_kind": self.card_kind,
            "id_number": self.masked_id, "name": self.masked_name,
            "english_name": self.masked_english_name,
            "pass_number": mask_id_number(self.pass_number),
            "card_number": mask_id_number(self.card_number),
            "nationality": self.nationality, "gender": self.gender.value,
            "valid_to": self.valid_to.isoformat() if self.valid_to else "",
            "photo_format": self.photo_format,
        }


# Fields every view shows as they are: nothing here names or numbers a person.
_PLAIN = ("source", "card_kind", "gender", "nationality", "valid_to", "photo_format")
# Fields a view shows masked; their real value only through `.full` where revealed.
MASKED_FIELDS = ("id_number", "name", "english_name", "pass_number", "card_number")
# Fields only a revealed `.full` shows at all (an address has no useful masked form).
_FULL_ONLY = ("birth_date", "ethnicity", "address", "issuer")


class IdentityView(Mapping[str, Any]):
    """The one way flow data reads an identity: masked unless the caller reveals it.

    `view["id_number"]` (or `view.id_number`, `{identity.id_number}` in a template) is
    `4419**********1234`, `name` is `张*`. `view["full"]` is the view with real values
    only when the view was made with `reveal=True` — which the flow context does for
    exactly two readers: a request to the platform and the printed A4 certificate.
    Everywhere else (screens, receipts, previews, records, conditions) `full` is the
    same masked view, so a template cannot print or send a full number by asking.
    """

    __slots__ = ("_identity", "_reveal", "_unmasked")

    def __init__(self, identity: Identity, *, reveal: bool = False,
                 _unmasked: bool = False) -> None:
        self._identity = identity
        self._reveal = reveal
        self._unmasked = _unmasked

    def _value(self, key: str) -> Any:
        ident = self._identity
        if key == "source":
            return ident.source.value
        if key == "gender":
            return ident.gender.value
        if key in ("valid_to", "birth_date"):
            value = getattr(ident, key)
            return value.isoformat() if value else ""
        if key in ("masked_id", "masked_name"):
            return getattr(ident, key)
        raw = getattr(ident, key)
        if self._unmasked or key not in MASKED_FIELDS:
            return raw
        return mask_name(raw) if key == "name" else (
            mask_english_name(raw) if key == "english_name" else mask_id_number(raw))

    def _keys(self) -> tuple[str, ...]:
        keys = _PLAIN + MASKED_FIELDS + ("masked_id", "masked_name")
        return keys + _FULL_ONLY if self._unmasked else keys

    def __getitem__(self, key: str) -> Any:
        if key == "full":
            return IdentityView(self._identity, reveal=self._reveal,
                                _unmasked=self._reveal)
        if key not in self._keys():
            raise KeyError(key)
        return self._value(key)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return (f"IdentityView(source={self._identity.source.value}, "
                f"id={self._identity.masked_id}, name={self._identity.masked_name}"
                f"{', unmasked' if self._unmasked else ''})")

    __str__ = __repr__


_ID_IN_TEXT = re.compile(r"(?<![0-9])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9])")


def scrub_text(text: str) -> str:
    """Mask anything that looks like an 18-character ID number inside free text."""
    return _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Defence in depth: mask ID-number-shaped strings in every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        scrubbed = scrub_text(msg)
        if scrubbed != msg:
            record.msg = scrubbed
            record.args = None
        return True
