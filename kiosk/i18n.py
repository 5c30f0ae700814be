"""Citizen-facing strings: zh_CN first, zh_HK and en translations.

Application strings live in `kiosk/locale/<locale>.json`; a flow package brings its
own strings which override and extend them. A missing translation falls back to
zh_CN, then to the key itself (so a missing string is visible, never a crash).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

LOCALES = ("zh_CN", "zh_HK", "en")
DEFAULT_LOCALE = "zh_CN"
_DIR = Path(__file__).resolve().parent / "locale"


@lru_cache(maxsize=None)
def app_strings(locale: str) -> Mapping[str, str]:
    """`locale/<locale>.json` merged with per-area files `locale/<area>.<locale>.json`."""
    out: dict[str, str] = {}
    for path in [_DIR / f"{locale}.json", *sorted(_DIR.glob(f"*.{locale}.json"))]:
        if path.exists():
            out.update(json.loads(path.read_text(encoding="utf-8")))
    return out


class Translator:
    def __init__(self, locale: str = DEFAULT_LOCALE,
                 extra: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._extra = extra or {}

    def with_locale(self, locale: str) -> Translator:
        return Translator(locale, self._extra)

    def has(self, key: str) -> bool:
        return any(key in table for table in self._tables(self.locale))

    def _tables(self, locale: str) -> list[Mapping[str, str]]:
        return [self._extra.get(locale, {}), app_strings(locale)]

    def __call__(self, key: str, **kwargs: object) -> str:
        for locale in (self.locale, DEFAULT_LOCALE):
            for table in self._tables(locale):
                if key in table:
                    text = table[key]
                    return text.format(**kwargs) if kwargs else text
        return key
