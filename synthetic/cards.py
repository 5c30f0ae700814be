"""Invented cards for the ID-card SAM emulator: every citizen's resident ID card plus
a Hong Kong residence permit (J), a 2017 foreigner permanent residence card (I) and a
2023 foreigner permanent residence ID card (Y). All numbers pass their check digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kiosk.identity import gb11643_check_digit
from synthetic.citizens import CITIZENS, Citizen


@dataclass(frozen=True)
class Card:
    key: str
    flag: str  # " " resident, "J" HK/Macau/Taiwan permit, "I" foreigner 2017, "Y" foreigner 2023
    name: str  # Chinese name ("" allowed on I/Y cards)
    gender: str
    birth: date
    number: str  # ID number (resident/J/Y) or 15-character permit number (I)
    valid_from: date
    valid_to: date | None  # None = 长期
    ethnicity: str = ""
    address: str = ""
    issuer: str = ""
    english_name: str = ""
    nationality: str = ""
    pass_number: str = ""  # J
    issue_count: str = ""  # J
    card_version: str = ""  # I
    authority_code: str = ""  # I
    renewal_count: str = ""  # Y
    previous_permit: str = ""  # Y
    ss_card_no: str = ""


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


def resident_card(c: Citizen) -> Card:
    return Card(c.key, " ", c.name, c.gender, c.birth, c.id_number, c.valid_from, c.valid_to,
                ethnicity=c.ethnicity, address=c.address, issuer=c.issuer,
                ss_card_no=c.ss_card_no)


EXTRA_CARDS: tuple[Card, ...] = (
    Card("lam", "J", "林嘉欣", "2", date(1991, 9, 23), _with_check("81000019910923024"),
         date(2021, 3, 8), date(2026, 3, 8), address="广东省东莞市东城街道东纵大道301号",
         issuer="东莞市公安局", pass_number="H60283917", issue_count="02"),
    Card("smith", "I", "史密斯", "1", date(1980, 7, 1), "CAN441980070112",
         date(2018, 10, 15), date(2028, 10, 15), english_name="SMITH, JOHN ROBERT",
         nationality="CAN", card_version="01", authority_code="4419"),
    Card("tanaka", "Y", "田中花子", "2", date(1990, 6, 15), _with_check("94439219900615021"),
         date(2023, 12, 1), date(2033, 12, 1),
         english_name="TANAKA HANAKO ELIZABETH MARIE LOUISE", nationality="JPN",
         renewal_count="00", previous_permit="000"),
)

CARDS: dict[str, Card] = {c.key: c for c in
                          (*(resident_card(c) for c in CITIZENS), *EXTRA_CARDS)}
