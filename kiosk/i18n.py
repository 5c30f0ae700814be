"""Citizen-facing strings: zh_CN first, zh_HK and en translations.

Application strings live in `kiosk/locale/<locale>.json`; a flow package brings its
own strings which override and extend them. A missing translation falls back to
zh_CN, then to the key itself (so a missing string is visible, never a crash).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Self, overload

LOCALES = ("zh_CN", "zh_HK", "en")
DEFAULT_LOCALE = "zh_CN"
_DIR = Path(__file__).resolve().parent / "locale"


@cache
def app_strings(locale: str) -> Mapping[str, str]:
    """`locale/<locale>.json` merged with per-area files `locale/<area>.<locale>.json`."""
    out: dict[str, str] = {}
    for path in [_DIR / f"{locale}.json", *sorted(_DIR.glob(f"*.{locale}.json"))]:
        if path.exists():
            out.update(json.loads(path.read_text(encoding="utf-8")))
    return out


class Text(str):
    """A translated string that remembers how it was made — its key and arguments, or a
    function of the translator (a key filled with data, a name the platform gives in
    several languages) — so that a screen on display can be drawn again in another
    language the moment the citizen switches."""

    key: str
    kwargs: Mapping[str, object]
    render: Callable[[Translator], str] | None
    # `data`: made from the platform's data, which may have no version in the language
    # asked for; `foreign`: and this one has none (a guide entry in Simplified Chinese
    # only) — shown as the platform gives it, and the screen says so.
    data: bool
    foreign: bool

    def __new__(cls, value: str, key: str = "", kwargs: Mapping[str, object] | None = None,
                render: Callable[[Translator], str] | None = None, data: bool = False,
                foreign: bool = False) -> Self:
        obj = super().__new__(cls, value)
        obj.key, obj.kwargs, obj.render = key, dict(kwargs or {}), render
        obj.data, obj.foreign = data, foreign
        return obj

    def __reduce__(self) -> tuple[object, ...]:
        return (Text, (str(self), self.key, self.kwargs))


def rendered(render: Callable[[Translator], str], t: Translator, *, data: bool = False
             ) -> Text:
    """`render(t)`, remembering `render` for a redraw in another language. `data`: the
    text comes from the platform's data, which may not exist in `t`'s language."""
    value = render(t)
    return Text(value, render=render, data=data,
                foreign=data and in_other_language(value, t.locale))


@lru_cache(maxsize=1)
def _script_only() -> tuple[frozenset[str], frozenset[str]]:
    """(characters only Simplified Chinese uses, characters only Traditional uses)."""
    from zhon import cedict

    simplified, traditional = set(cedict.simplified), set(cedict.traditional)
    return frozenset(simplified - traditional), frozenset(traditional - simplified)


def in_other_language(text: str, locale: str) -> bool:
    """Text that is not in `locale`: Chinese in English, Simplified in Traditional, …"""
    if locale == "en":
        return any("\u3400" <= c <= "\u9fff" for c in text)
    simplified_only, traditional_only = _script_only()
    wrong = traditional_only if locale == DEFAULT_LOCALE else simplified_only
    return any(c in wrong for c in text)


def pick(variants: Mapping[str, object] | object,
         fallback: str = "") -> Callable[[Translator], str]:
    """A renderer for platform text given per language ({"zh_CN": …, "en": …}) or as one
    string: the translator's language, else Simplified Chinese."""
    def render(t: Translator) -> str:
        if isinstance(variants, Mapping):
            return str(variants.get(t.locale) or variants.get(DEFAULT_LOCALE) or fallback)
        return str(variants if variants is not None else fallback)
    return render


@overload
def localize(data: dict[str, Any], locale: str) -> dict[str, Any]: ...
@overload
def localize(data: object, locale: str) -> object: ...


def localize(data: object, locale: str) -> object:
    """Platform data in `locale` where it says how: a field `x` with a sibling
    `x_i18n = {"en": …, "zh_HK": …}` takes the variant for `locale`. Only plain dicts and
    lists holding such fields are copied; everything else (a masking identity view) is
    passed on as it is."""
    if type(data) is dict:
        changed: dict[str, object] = {}
        for k, v in data.items():
            variants = data.get(f"{k}_i18n") if isinstance(k, str) else None
            if isinstance(variants, Mapping) and variants.get(locale):
                changed[k] = variants[locale]
            else:
                new = localize(v, locale)
                if new is not v:
                    changed[k] = new
        return {**data, **changed} if changed else data
    if type(data) is list:
        items = [localize(v, locale) for v in data]
        return items if any(a is not b for a, b in zip(items, data, strict=True)) else data
    return data


def _foreign(kwargs: Mapping[str, object]) -> bool:
    """A sentence of ours around words in another language (a platform name with no
    translation, what the citizen typed) is shown with them, as they are."""
    return any(getattr(v, "foreign", False) for v in kwargs.values())


def typed(text: str, t: Translator) -> Text:
    """What the citizen typed, quoted back on a screen: in whatever language they used."""
    return rendered(lambda _t: text, t, data=True)


@overload
def retranslate(value: str, t: Translator) -> str: ...
@overload
def retranslate(value: object, t: Translator) -> object: ...


def retranslate(value: object, t: Translator) -> object:
    """`value` in `t`'s language if it came from a translation (arguments too), else as is."""
    if isinstance(value, Text) and value.render is not None:
        return rendered(value.render, t, data=value.data)
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
                    return Text(text.format(**kwargs) if kwargs else text, key, kwargs,
                                foreign=_foreign(kwargs))
        return Text(key, key, kwargs)
