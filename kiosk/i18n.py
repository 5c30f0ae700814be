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


class Text(str):
    """A translated string that remembers its key and arguments, so that a screen on
    display can be drawn again in another language the moment the citizen switches."""

    key: str
    kwargs: Mapping[str, object]

    def __new__(cls, value: str, key: str = "", kwargs: Mapping[str, object] | None = None
                ) -> Text:
        obj = super().__new__(cls, value)
        obj.key, obj.kwargs = key, dict(kwargs or {})
        return obj

    def __reduce__(self) -> tuple[object, ...]:
        return (Text, (str(self), self.key, self.kwargs))


def retranslate(value: object, t: Translator) -> object:
    """`value` in `t`'s language if it came from a translation (arguments too), else as is."""
    if isinstance(value, Text) and value.key:
        return t(value.key, **{k: retranslate(v, t) for k, v in value.kwargs.items()})
    if isinstance(value, tuple):
        return tuple(retranslate(v, t) for v in value)
    return value


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

    def __call__(self, key: str, **kwargs: object) -> Text:
        for locale in (self.locale, DEFAULT_LOCALE):
            for table in self._tables(locale):
                if key in table:
                    text = table[key]
                    return Text(text.format(**kwargs) if kwargs else text, key, kwargs)
        return Text(key, key, kwargs)
