"""The categories a service can be filed under, in home-screen order.

The app knows them (not each package) so that every package files services the same way
and a citizen finds 公积金 in the same place on every terminal. Titles are string keys
`category.<id>` in `kiosk/locale/*.json`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    icon: str  # an illustration name (kiosk.ui.illustration)

    @property
    def title(self) -> str:
        return f"category.{self.id}"


CATEGORIES: tuple[Category, ...] = (
    Category("social_security", "card"),   # 社保
    Category("medical", "health"),         # 医保
    Category("housing_fund", "house"),     # 公积金
    Category("tax", "receipt"),            # 税务
    Category("real_estate", "house"),      # 不动产
    Category("household", "idcard"),       # 户政
    Category("exit_entry", "passport"),    # 出入境
    Category("transport", "car"),          # 交通
    Category("civil_affairs", "people"),   # 民政
    Category("marriage_birth", "family"),  # 婚育
    Category("education", "school"),       # 教育
    Category("employment", "work"),        # 就业创业
    Category("business", "shop"),          # 企业办事 / 市场监管
    Category("public", "info"),            # 公共服务 (queue, guides, evaluation)
)
BY_ID = {c.id: c for c in CATEGORIES}
