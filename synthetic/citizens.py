"""Invented citizens with valid-checksum ID numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kiosk.identity import Identity, gb11643_check_digit


def make_id_number(region: str, birth: date, seq: int) -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + gb11643_check_digit(first17)


@dataclass(frozen=True)
class Citizen:
    key: str
    name: str
    gender: str  # GB/T 2261.1 code: "1" male, "2" female
    ethnicity: str  # two-digit code, "01" = 汉
    birth: date
    address: str
    seq: int
    issuer: str
    valid_from: date
    valid_to: date | None  # None = 长期 (long-term)
    ss_card_no: str
    employer: str
    insured_since: date
    monthly_base: int  # contribution base, yuan
    region: str = "441900"

    @property
    def id_number(self) -> str:
        return make_id_number(self.region, self.birth, self.seq)


CITIZENS: tuple[Citizen, ...] = (
    Citizen("chen", "陈晓梅", "2", "01", date(1985, 3, 14), "广东省东莞市南城街道鸿福路88号",
            362, "东莞市公安局南城分局", date(2015, 6, 1), date(2035, 6, 1), "D19853142",
            "东莞市松湖智造科技有限公司", date(2010, 7, 1), 6800),
    Citizen("li", "李建国", "1", "01", date(1958, 11, 2), "广东省东莞市莞城街道可园南路12号",
            517, "东莞市公安局莞城分局", date(2008, 4, 20), None, "D19581102",
            "东莞市莞城物业管理有限公司", date(1996, 1, 1), 4500),
    Citizen("wang", "王秀英", "2", "03", date(1972, 7, 29), "广东省东莞市虎门镇连升路203号",
            128, "东莞市公安局虎门分局", date(2012, 9, 3), date(2032, 9, 3), "D19720729",
            "虎门服装贸易有限公司", date(2003, 5, 1), 5200),
    Citizen("ouyang", "欧阳思远", "1", "01", date(1999, 1, 8), "广东省东莞市松山湖大道6号",
            733, "东莞市公安局松山湖分局", date(2019, 2, 11), date(2029, 2, 11), "D19990108",
            "松山湖数据服务有限公司", date(2021, 8, 1), 9000),
    # 陈晓梅's husband (no-property proof for a married couple; see synthetic/services.py).
    Citizen("huang", "黄志强", "1", "01", date(1983, 9, 21), "广东省东莞市南城街道鸿福路88号",
            415, "东莞市公安局南城分局", date(2014, 3, 2), date(2034, 3, 2), "D19830921",
            "东莞市南城建设工程有限公司", date(2006, 9, 1), 7600),
    # A person the platform has no record of (for "no record found" paths).
    Citizen("nobody", "赵无名", "1", "01", date(1990, 5, 5), "广东省东莞市厚街镇康乐路1号",
            901, "东莞市公安局厚街分局", date(2016, 5, 5), date(2036, 5, 5), "",
            "", date(2020, 1, 1), 0),
    # A card that expired years ago: identify refuses it (证件已过期), whatever today is.
    Citizen("zhou", "周慧敏", "2", "01", date(1966, 12, 9), "广东省东莞市石龙镇中山东路20号",
            244, "东莞市公安局石龙分局", date(2004, 8, 16), date(2024, 8, 16), "D19661209",
            "石龙食品有限公司", date(1998, 3, 1), 4200),
)

BY_KEY = {c.key: c for c in CITIZENS}
BY_ID = {c.id_number: c for c in CITIZENS}


def identity_of(citizen: Citizen, source: str = "id_card") -> Identity:
    """The identity a reader would return for this citizen's card."""
    from kiosk.identity import Gender, IdentitySource

    return Identity(
        source=IdentitySource(source),
        id_number=citizen.id_number,
        name=citizen.name,
        gender=Gender(citizen.gender),
        birth_date=citizen.birth,
        ethnicity=citizen.ethnicity,
        address=citizen.address,
        card_kind="resident",
        valid_from=citizen.valid_from,
        valid_to=citizen.valid_to,
        issuer=citizen.issuer,
    )
