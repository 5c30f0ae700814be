"""`guide_browse`: find a matter in the service guide (办事指南) by category or by search.

The catalog comes from the platform and is kept in the terminal's read cache, so
the guide still works offline (with a note saying how old the data is). Search
needs no Chinese input method: the platform gives every matter its pinyin
initials (社保 -> SB) and the on-screen keys type letters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kiosk.backend.errors import BackendError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType
from kiosk.i18n import Translator, pick, rendered, retranslate, typed

log = logging.getLogger(__name__)


class ReadCache(Protocol):
    """What the guide needs from the read cache (offline_cache.ReadCache has this shape)."""

    def get(self, kind: str, key: str) -> Any: ...  # an entry with .value and .fetched

    def put(self, kind: str, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class _Entry:
    value: Any
    fetched: float


class MemoryReadCache:
    """Process-lifetime fallback when the runtime offers no persistent read cache."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], _Entry] = {}

    def get(self, kind: str, key: str) -> _Entry | None:
        return self._items.get((kind, key))

    def put(self, kind: str, key: str, value: Any) -> None:
        self._items[(kind, key)] = _Entry(value, time.time())


_FALLBACK = MemoryReadCache()
CACHE_KIND = "guide"


def read_cache(ctx: FlowContext) -> ReadCache:
    """The runtime's read cache (offline_cache) if wired into the context, else memory."""
    cache = getattr(ctx, "read_cache", None)
    return cache if cache is not None else _FALLBACK


def fetch_cached(ctx: FlowContext, path: str, key: str, max_age_s: float
                 ) -> tuple[Any, float | None]:
    """A platform GET through the read cache: fresh cache first, then network, then stale.

    Returns (value, fetched) where fetched is None for an answer that is fresh.
    """
    cache = read_cache(ctx)
    cached = cache.get(CACHE_KIND, key)
    if cached is not None and time.time() - cached.fetched < max_age_s:
        return cached.value, None
    err: BackendError | None = None
    if ctx.backend is not None:
        try:
            value = ctx.backend.get_json(path)
            cache.put(CACHE_KIND, key, value)
            return value, None
        except BackendError as exc:
            err = exc
            log.warning("guide catalog not refreshed: %s", exc.key)
    if cached is not None:
        return cached.value, cached.fetched
    raise StepError(err.key if err else "backend.unreachable", retry=True)


def _matches(matter: Mapping[str, Any], query: str) -> bool:
    """Chinese text matches names and keywords; Latin letters match pinyin initials."""
    q = query.strip()
    if not q:
        return False
    names = [str(v) for v in dict(matter.get("name_i18n") or {}).values()]
    if not q.isascii():
        return any(q in n for n in [str(matter.get("name", "")), *names]) or any(
            q in str(k) for k in matter.get("search_words", []))
    words = q.lower().split()
    if len(q) > 2 and all(any(w in n.lower() for n in names) for w in words):
        return True  # English (or Cantonese romanisation) words of a translated name
    q = q.upper().replace(" ", "")
    return (str(matter.get("initials", "")).upper().startswith(q)
            or any(str(k).upper().startswith(q) for k in matter.get("keywords", [])))


def local(ctx: FlowContext, item: Mapping[str, Any], field: str) -> str:
    """A text the platform gives in several languages: `field` (Simplified Chinese) and
    `field_i18n` ({"en": …, "zh_HK": …}); shown in the citizen's language, redrawn on a
    switch. Text without a translation stays Chinese."""
    variants = {"zh_CN": item.get(field, ""), **dict(item.get(f"{field}_i18n") or {})}
    return rendered(pick(variants), ctx.t)


def _vocabulary(matters: list[Mapping[str, Any]]) -> tuple[str, ...]:
    """Words the input method should offer first: matter names and their parts."""
    words: list[str] = []
    for m in matters:
        name = str(m.get("name", ""))
        words.append(name)
        words.extend(str(k) for k in m.get("search_words", []))
    return tuple(dict.fromkeys(words))


class GuideBrowseStep(StepType):
    name = "guide_browse"
    optional = ("source", "cache_key", "max_age_s", "store_as", "page_size")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t("guide.loading"), illustration="search",
                               idle=False))
        catalog, stored_at = fetch_cached(ctx, self.param("source", "/api/v1/guide/catalog"),
                                          self.param("cache_key", "guide.catalog"),
                                          float(self.param("max_age_s", 3600)))
        if not isinstance(catalog, Mapping) or not catalog.get("matters"):
            raise StepError("guide.unavailable", retry=True)
        note = ""
        if stored_at is not None:
            note = t("guide.offline_data",
                     when=datetime.fromtimestamp(stored_at).strftime("%Y-%m-%d %H:%M"))
        matters = [m for m in catalog["matters"] if isinstance(m, Mapping)]
        categories = [c for c in catalog.get("categories", []) if isinstance(c, Mapping)]
        while True:
            opts = tuple(Action(f"cat:{c['id']}", local(ctx, c, "name")) for c in categories)
            resp = ask(ctx.ui, ctx.screen(
                ScreenKind.CHOICE, t("guide.title"), text=t("guide.pick_category"), hint=note,
                illustration="guide",
                options=opts, actions=(Action("cancel", t("common.home")),
                                       Action("search", t("guide.search")))))
            if resp.action == "cancel":
                return StepResult("cancel")
            if resp.action == "search":
                found = self._search(ctx, matters)
            elif resp.action.startswith("cat:"):
                cid = resp.action[4:]
                name = next((local(ctx, c, "name") for c in categories if str(c["id"]) == cid),
                            "")
                found = self._pick(ctx, [m for m in matters if str(m.get("category")) == cid],
                                   t("guide.in_category", category=name), note)
            else:
                continue
            if found is not None:
                ctx.data[self.param("store_as", "matter")] = dict(found)
                return StepResult("next")

    def _search(self, ctx: FlowContext, matters: list[Mapping[str, Any]]
                ) -> Mapping[str, Any] | None:
        t = ctx.t
        status, entry = "", ""
        while True:
            resp = ask(ctx.ui, ctx.screen(
                ScreenKind.KEYBOARD, t("guide.search_title"), text=t("guide.search_text"),
                hint=t("guide.search_hint"), status=status, keys="pinyin", entry=entry,
                max_len=12, vocabulary=_vocabulary(matters),
                actions=(Action("back", t("common.back")),
                         Action("confirm", t("guide.search_go"), primary=True))))
            if resp.action in ("back", "cancel"):
                return None
            if resp.action != "confirm":
                continue
            entry = str(resp.value or "").strip()
            hits = [m for m in matters if entry and _matches(m, entry)]
            if not hits:
                status = t("guide.no_match", query=typed(entry, t))
                continue
            found = self._pick(ctx, hits, t("guide.results", query=typed(entry, t), n=len(hits)),
                               "")
            if found is not None:
                return found
            status = ""

    def _pick(self, ctx: FlowContext, items: list[Mapping[str, Any]], text: str, note: str
              ) -> Mapping[str, Any] | None:
        t = ctx.t
        size = int(self.param("page_size", 6))
        pages = max(1, (len(items) + size - 1) // size)
        page = 0
        while True:
            shown = items[page * size:(page + 1) * size]
            actions = [Action("back", t("common.back"))]
            if page > 0:
                actions.append(Action("page_prev", t("common.page_prev")))
            if page < pages - 1:
                actions.append(Action("page_next", t("common.page_next"), primary=True))
            of = t("common.page_of", n=page + 1, m=pages) if pages > 1 else ""
            hint = rendered(_joined((note, of)), t)
            resp = ask(ctx.ui, ctx.screen(
                ScreenKind.CHOICE, t("guide.pick_matter"), text=text, hint=hint,
                options=tuple(Action(f"matter:{m['id']}", local(ctx, m, "name")) for m in shown),
                actions=tuple(actions)))
            if resp.action == "page_prev":
                page = max(0, page - 1)
            elif resp.action == "page_next":
                page = min(pages - 1, page + 1)
            elif resp.action in ("back", "cancel"):
                return None
            elif resp.action.startswith("matter:"):
                mid = resp.action[7:]
                hit = next((m for m in items if str(m["id"]) == mid), None)
                if hit is not None:
                    return hit


def _joined(parts: tuple[object, ...]) -> Callable[[Translator], str]:
    """The non-empty parts (texts redrawn in the citizen's language) joined by spaces."""
    return lambda tt: " ".join(str(retranslate(x, tt)) for x in parts if x)
