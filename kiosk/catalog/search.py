"""Search over the catalog's services, the way a citizen types at a terminal.

`CatalogIndex.build` precomputes, per language, every form a service can be found by;
`search` then costs a few C-level `str.find` loops and regex passes over each column of
joined lines (one kind of text of every service), not a Python call per service: about
2 ms of CPU per keystroke at 300 services (`kiosk bench`, catalog_search_p95_*). Queries
up to two letters skip abbreviations and pinyin in the weaker forms (they would match
most of the catalog); fuzzy matching needs 3+ characters or 5+ letters.

What finds a service, best first (the `score` of a `Hit`; `why` says which):

=====  ==========  ================================================================
score  why         the query is …
=====  ==========  ================================================================
100    title       the title itself (characters; either script; case-insensitive)
90     prefix      the start of the title
80     initials    the start of the title's pinyin initials (`wfzm` 无房证明)
70     pinyin      the start of the title in pinyin: full syllables or syllable
                   prefixes (`gongjijin`, `gong ji jin`, `gongj`, `gong4jijin`,
                   `gōngjījīn`; `v` or `u` for ü)
60     substring,  characters inside the title, English words (each query word the
       words,      start of a title word), pinyin from a syllable inside the title
       pinyin
50-41  abbrev      pinyin initials / syllable prefixes skipping whole syllables
                   (`sbzm` 社保参保缴费证明): from the title's start before from inside
                   it, then by how many letters read its first syllables in a row
40-34  keyword,    the flow's `keywords` (text or string keys), the title in the other
       translation, languages, the department, zone and category titles (characters,
                   pinyin from 3 letters, or words)
       department,
       zone,
       category
30     fuzzy       one character missing, extra or wrong (3+ characters), one wrong,
                   missing or extra letter in pinyin (5+ letters) or in one English
                   word (5+ letters)
28     sound       characters that sound like the title's or a weaker form's
                   (homophones: 公鸡金 公积金; a script the folding table lacks)
=====  ==========  ================================================================

Equal scores are ordered by the shorter title, then the flow's `order`, then its id.

Traditional and Simplified: characters are folded to one script before comparing, with
a folding table taken from the catalog's own zh_HK / zh_CN strings (aligned titles,
subtitles, department and category names: no OpenCC), and every Chinese entry keeps the
other script's title as a form of its own; pinyin readings do not depend on the script.

Start-up: pinyin readings come from pypinyin (its import and dictionaries are most of a
cold build); `use_reading_cache(path)` keeps them in a file across starts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from kiosk.flows.model import FlowDef

log = logging.getLogger(__name__)

ZH_LOCALES = ("zh_CN", "zh_HK")
QUERY_MAX = 64  # characters looked at: longer is pasted text, and would cost more

SCORE_TITLE, SCORE_PREFIX, SCORE_INITIALS, SCORE_PINYIN = 100.0, 90.0, 80.0, 70.0
SCORE_SUBSTRING, SCORE_ABBREV, SCORE_FUZZY, SCORE_SOUND = 60.0, 50.0, 30.0, 28.0
# Weaker forms of a service, strongest first: what ops wrote for search, the title in
# another language, then names the service shares with many others.
SECONDARY = (("keyword", 40.0), ("translation", 39.0), ("department", 38.0),
             ("zone", 36.0), ("category", 34.0))


class Translator(Protocol):
    def __call__(self, key: str) -> str: ...


@dataclass(frozen=True)
class Hit:
    flow_id: str
    title: str
    score: float
    why: str


# -- text normal forms ------------------------------------------------------------------

_TONE = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


def _clean(text: str) -> str:
    """NFKC, case-folded, one line (a line is one text of the index)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _words(text: str) -> str:
    """Lower-case words separated by single spaces, with a leading space (so that
    `" " + word in form` asks "does a word start with this")."""
    return " " + " ".join(_NON_WORD.sub(" ", _clean(text)).split())


def _letters(text: str) -> str:
    """Typed pinyin as bare letters: tone marks and tone digits dropped, ü as u."""
    text = _clean(text).translate(_TONE).replace("v", "u")
    return re.sub(r"[^a-z]", "", text)  # tone digits, spaces and apostrophes go too


def reading(text: str) -> tuple[str, ...]:
    """Toneless pinyin syllables of the Chinese in `text` (ü as u), runs of letters and
    digits as their own lower-case tokens; punctuation dropped."""
    return readings([text])[0]


# Readings already made: keywords, departments and titles repeat across services,
# languages and rebuilds (a package update rebuilds the index).
_READINGS: dict[str, tuple[str, ...]] = {}
_READINGS_MAX = 50_000


def readings(texts: Iterable[str]) -> list[tuple[str, ...]]:
    """`reading` of each text; the Chinese ones not seen before in one pypinyin call
    (its per-call cost is most of the cost of short texts)."""
    texts = list(texts)
    todo = list(dict.fromkeys(t for t in texts if t not in _READINGS
                              and any(is_han(c) for c in t)))
    if todo:
        if len(_READINGS) + len(todo) > _READINGS_MAX:
            _READINGS.clear()
        batch = _han_readings(todo)
        if len(batch) != len(todo):  # a separator pypinyin did not keep: one by one
            batch = [_han_readings([t])[0] for t in todo]
        _READINGS.update(zip(todo, batch, strict=True))
    return [_READINGS[t] if t in _READINGS else tuple(_words(t).split()) for t in texts]


def clear_reading_cache() -> None:
    _READINGS.clear()


# -- readings kept across starts ------------------------------------------------------------

_STORE: dict[str, object] = {"path": None, "saved": 0}


def _store_key() -> str:
    """Readings stay valid while pypinyin's version and our corrections stay the same."""
    from importlib.util import find_spec

    # its version from its source, not importlib.metadata (a scan of sys.path: slow)
    spec = find_spec("pypinyin")
    source = Path(spec.origin).read_text("utf-8") if spec and spec.origin else ""
    found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", source)
    return f"1 pypinyin {found.group(1) if found else '?'} {sorted(_PHRASES.items())}"


def use_reading_cache(path: Path) -> None:
    """Keep pinyin readings in `path` (a JSON file in the terminal's data folder) across
    starts: with every title read before, building the index imports no pypinyin at all
    (its dictionaries are most of a cold build). Each `CatalogIndex.build` that read new
    texts writes the file again (atomically). A missing, unreadable or stale file is
    simply rebuilt."""
    _STORE["path"] = Path(path)
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
        if not isinstance(doc, dict) or doc.get("key") != _store_key():
            raise ValueError("made by another version")
        table = doc["readings"]
        loaded = {str(k): tuple(str(v).split()) for k, v in table.items()}
    except FileNotFoundError:
        loaded = {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("catalog readings cache %s not used (%s); it will be rebuilt", path, exc)
        loaded = {}
    _READINGS.update(loaded)
    _STORE["saved"] = len(_READINGS)


def _save_readings() -> None:
    path = _STORE["path"]
    if not isinstance(path, Path) or len(_READINGS) == _STORE["saved"]:
        return
    doc = {"key": _store_key(), "readings": {k: " ".join(v) for k, v in _READINGS.items()}}
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
        os.replace(tmp, path)
        _STORE["saved"] = len(_READINGS)
    except OSError as exc:  # a full or read-only disk: the next start reads again
        log.warning("catalog readings cache %s not written: %s", path, exc)


# Service words pypinyin's phrase dictionary reads wrong (还款 is not "hai kuan").
_PHRASES = {"还款": [["huán"], ["kuǎn"]], "还贷": [["huán"], ["dài"]],
            "还款明细": [["huán"], ["kuǎn"], ["míng"], ["xì"]]}


@lru_cache(maxsize=1)
def _pypinyin() -> Callable[..., list[str]]:
    from pypinyin import lazy_pinyin, load_phrases_dict

    load_phrases_dict(_PHRASES)  # process-wide: the on-screen IME reads them right too
    return lazy_pinyin


def _han_readings(texts: list[str]) -> list[tuple[str, ...]]:
    lazy_pinyin = _pypinyin()

    out: list[list[str]] = [[]]
    joined = "\n".join(t.replace("\n", " ") for t in texts)
    for part in lazy_pinyin(joined, errors=lambda run: run):
        # a character pypinyin has no reading for comes back as itself: dropped
        part = "".join(c for c in part if not is_han(c))
        for k, piece in enumerate(part.split("\n")):
            if k:
                out.append([])
            token = piece.translate(_TONE).casefold().replace("v", "u")
            out[-1].extend(_NON_WORD.sub(" ", token).split())
    return [tuple(r) for r in out]


# -- columns: one kind of text of every service, searched in one pass --------------------

class _Column:
    """Lines of text, each owned by a service (by its position in the catalog). A query
    is one `str.find` loop or one regex pass over the joined text, not one call per
    service: that is what keeps a keystroke at a few milliseconds at 300 services."""

    def __init__(self, owners: list[int], lines: list[str]) -> None:
        self.owners = owners
        self.starts: list[int] = []
        pos = 1
        for line in lines:
            self.starts.append(pos)
            pos += len(line) + 1
        self.text = "\n" + "\n".join(lines) + "\n"
        self._lines = lines
        self._exact: dict[str, list[int]] | None = None

    def exact(self, line: str) -> list[int]:
        """Services with a line equal to `line` (made on first use: titles only)."""
        if self._exact is None:
            self._exact = {}
            for owner, text in zip(self.owners, self._lines, strict=True):
                self._exact.setdefault(text, []).append(owner)
        return self._exact.get(line, [])

    def owner_at(self, pos: int) -> int:
        return self.owners[bisect_right(self.starts, pos) - 1]

    def find(self, needle: str) -> set[int]:
        """Services with a line containing `needle` ("\\n" + x: a line starting with x)."""
        out: set[int] = set()
        text, pos = self.text, self.text.find(needle)
        while pos >= 0:
            out.add(self.owner_at(pos + 1 if needle.startswith("\n") else pos))
            pos = text.find(needle, pos + 1)
        return out

    def line(self, index: int) -> str:
        end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.text) - 1
        return self.text[self.starts[index]:end]

    def near(self, text: str, prefix: str = "") -> set[int]:
        """Services with a line holding something within one edit of `prefix + text`
        (len(text) ≥ 3). One edit leaves one half of `text` intact: lines holding
        either half are the only ones the (slow, alternation-heavy) pattern tries."""
        half = len(text) // 2
        lines = set()
        for needle in (prefix + text[:half], text[half:]):
            pos = self.text.find(needle)
            while pos >= 0:
                lines.add(bisect_right(self.starts, pos) - 1)
                pos = self.text.find(needle, pos + 1)
        pattern = _edit1_pattern(text, prefix)
        return {self.owners[i] for i in lines if pattern.search(self.line(i))}

    def matches(self, pattern: re.Pattern[str]) -> dict[int, re.Match[str]]:
        """Each service's first match of `pattern` (which never crosses a line)."""
        out: dict[int, re.Match[str]] = {}
        for m in pattern.finditer(self.text):
            out.setdefault(self.owner_at(m.start() + (m.group().startswith("\n"))), m)
        return out


@dataclass(frozen=True)
class _Forms:
    """The columns of one group of texts (the titles, the keywords, …) in one language."""

    chars: _Column     # folded to Simplified, lower case, no spaces
    sylls: _Column     # " she bao can bao …": each syllable after a space
    initials: _Column  # "sbcbjfzm"
    flat: _Column      # "shebaocanbao…"
    words: _Column     # " social security …"

    @classmethod
    def of(cls, texts: list[tuple[int, str]], fold: Mapping[int, str],
           memo: dict[str, tuple[str, str, str, str, str]]) -> _Forms:
        """`memo`: the five forms of each text already made in this build (category,
        department and other-language titles repeat across services and languages)."""
        todo = list(dict.fromkeys(raw for _, raw in texts if raw not in memo))
        cleaned = [_clean(raw).translate(fold) for raw in todo]
        # read folded: pypinyin knows Simplified phrases best
        for raw, text, r in zip(todo, cleaned, readings(cleaned), strict=True):
            memo[raw] = (text.replace(" ", ""), "".join(" " + s for s in r),
                         "".join(s[0] for s in r), "".join(r), _words(text))
        owners = [owner for owner, _ in texts]
        rows = [memo[raw] for _, raw in texts]
        return cls(*(_Column(owners, [row[k] for row in rows]) for k in range(5)))


# -- the query ---------------------------------------------------------------------------

_ABBREV_MAX = 12  # letters: longer queries are typed pinyin, not an abbreviation


@lru_cache(maxsize=512)
def _syllable_pattern(letters: str, skip: bool) -> re.Pattern[str]:
    """Letters cut into prefixes of consecutive syllables (or of syllables in order,
    skipping whole ones, with `skip`), starting at a syllable."""
    gap = "(?:[a-z0-9]*+ (?:[a-z0-9]+ )*)?" if skip else "(?:[a-z0-9]*+ )?"
    return re.compile(" " + gap.join(letters))


@lru_cache(maxsize=256)
def _edit1_pattern(text: str, prefix: str = "") -> re.Pattern[str]:
    """Anything within one substitution, insertion or deletion of `text` (len ≥ 2)."""
    esc = [re.escape(c) for c in text]
    alts = set()
    for i in range(len(text)):
        alts.add("".join(esc[:i]) + "[^\n ]" + "".join(esc[i + 1:]))   # wrong
        alts.add("".join(esc[:i]) + "".join(esc[i + 1:]))               # extra
    for i in range(1, len(text)):
        alts.add("".join(esc[:i]) + "[^\n ]" + "".join(esc[i:]))        # missing
    return re.compile(prefix + "(?:" + "|".join(sorted(alts, key=len, reverse=True)) + ")")


@dataclass(frozen=True)
class _Query:
    chars: str                 # folded characters, no spaces ("" if none)
    letters: str               # the query as pinyin letters ("" if it has Chinese)
    mixed: str                 # Chinese read as pinyin + typed letters ("" if neither)
    tokens: tuple[str, ...]    # words of letters and digits
    sound: str                 # " gong ji jin": the Chinese query's reading

    @classmethod
    def parse(cls, query: str, fold: Mapping[int, str]) -> _Query:
        q = _clean(query).translate(fold)
        han = any(is_han(c) for c in q)
        letters = "" if han else _letters(q)
        sound = mixed = ""
        if han:
            r = reading(q)
            sound = "".join(" " + s for s in r)
            if _letters("".join(c for c in q if not is_han(c))):
                mixed = "".join(r)
        return cls(q.replace(" ", ""), letters, mixed, tuple(_words(q).split()), sound)


class _Scores:
    """Best (score, why) per service."""

    def __init__(self) -> None:
        self.best: dict[int, tuple[float, str]] = {}

    def add(self, owners: Iterable[int], score: float, why: str) -> None:
        best = self.best
        for o in owners:
            had = best.get(o)
            if had is None or score > had[0]:
                best[o] = (score, why)

    def add_secondary(self, codes: Iterable[int]) -> None:
        """Lines of the weaker forms: owner * 8 + the index of its kind in SECONDARY."""
        for code in codes:
            why, score = SECONDARY[code & 7]
            self.add((code >> 3,), score, why)


def _pinyin_hits(f: _Forms, letters: str, s: _Scores, inner: bool) -> None:
    """Letters read from a syllable on: from the title's first one (pinyin), or with
    `inner` from one inside it too (substring). One regex pass for both."""
    text = f.sylls.text
    for owner, m in f.sylls.matches(_syllable_pattern(letters, False)).items():
        if text[m.start() - 1] == "\n":  # the leftmost match: the line's start if any
            s.add((owner,), SCORE_PINYIN, "pinyin")
        elif inner:
            s.add((owner,), SCORE_SUBSTRING, "pinyin")


def _all_words(tokens: tuple[str, ...], col: _Column) -> set[int]:
    sets = [col.find(" " + t) for t in tokens]
    return set.intersection(*sets) if sets else set()


def _one_typo(tokens: tuple[str, ...], col: _Column) -> set[int]:
    """Services where every word matches and exactly one (of 5+ letters) has one typo."""
    exact = [col.find(" " + t) for t in tokens]
    fuzzy = [col.near(t, " ") if len(t) >= 5 else set()
             for t in tokens]
    out: set[int] = set()
    for i in range(len(tokens)):
        others = [exact[j] for j in range(len(tokens)) if j != i]
        out |= (fuzzy[i] - exact[i]).intersection(*others) if others else fuzzy[i] - exact[i]
    return out


def _score_titles(q: _Query, f: _Forms, zh: bool, s: _Scores) -> None:
    if q.chars:
        s.add(f.chars.exact(q.chars), SCORE_TITLE, "title")
        s.add(f.chars.find("\n" + q.chars), SCORE_PREFIX, "prefix")
    if zh and q.letters:
        s.add(f.initials.find("\n" + q.letters), SCORE_INITIALS, "initials")
        _pinyin_hits(f, q.letters, s, inner=len(q.letters) >= 2)
    if zh and q.mixed:
        _pinyin_hits(f, q.mixed, s, inner=True)
    if not zh and q.tokens:
        s.add(_all_words(q.tokens, f.words), SCORE_SUBSTRING, "words")
    if len(q.chars) >= (2 if zh else 3):  # "ax" inside "tax" is not what was meant
        s.add(f.chars.find(q.chars), SCORE_SUBSTRING, "substring")
    if zh:
        for letters in (q.letters, q.mixed):
            if 3 <= len(letters) <= _ABBREV_MAX:  # two letters: initials say enough
                for owner, m in f.sylls.matches(_syllable_pattern(letters, True)).items():
                    s.add((owner,), _abbrev_score(f, m, letters), "abbrev")


def _abbrev_score(f: _Forms, m: re.Match[str], letters: str) -> float:
    """From the title's first syllable (the leftmost match is that one if any is) before
    from inside it; then the longer start of the letters that reads the title's first
    syllables without a skip (社保… before 深圳医保… for `sbzm`). How many syllables were
    skipped is left to the tie rule (the shorter title first)."""
    start = m.start()
    inside = 0.0 if f.sylls.text[start - 1] == "\n" else 5.0
    line = f.sylls.line(bisect_right(f.sylls.starts, start) - 1)
    at = line[line.index(m.group()):]
    run = next((k for k in range(len(letters), 0, -1)
                if _syllable_pattern(letters[:k], False).match(at)), 0)
    return SCORE_ABBREV - inside - min(4.0, 0.5 * (len(letters) - run))


def _score_secondary(q: _Query, f: _Forms, s: _Scores) -> None:
    if len(q.chars) >= (2 if q.sound else 3):  # two Chinese characters, or three letters
        s.add_secondary(f.chars.find(q.chars))
    if len(q.letters) >= 3:  # two letters of pinyin would match most keywords
        s.add_secondary(f.initials.find("\n" + q.letters))
        s.add_secondary(f.sylls.matches(_syllable_pattern(q.letters, False)))
    if q.mixed:
        s.add_secondary(f.sylls.matches(_syllable_pattern(q.mixed, False)))
    if len("".join(q.tokens)) >= 2:
        s.add_secondary(_all_words(q.tokens, f.words))


def _score_fuzzy(q: _Query, f: _Forms, zh: bool, s: _Scores) -> None:
    if len(q.chars) >= 3 and not q.letters:
        s.add(f.chars.near(q.chars), SCORE_FUZZY, "fuzzy")
    if zh and len(q.letters) >= 5:
        s.add(f.flat.near(q.letters), SCORE_FUZZY, "fuzzy")
    if not zh and any(len(t) >= 5 for t in q.tokens):
        s.add(_one_typo(q.tokens, f.words), SCORE_FUZZY, "fuzzy")
    if zh and q.sound and not q.mixed:
        s.add(f.sylls.matches(_sound_pattern(q.sound)), SCORE_SOUND, "sound")


def _sound_pattern(sound: str) -> re.Pattern[str]:
    """The same syllables in a row (" gong ji jin"), whole syllables."""
    return re.compile(re.escape(sound) + "(?![a-z0-9])")


# -- the index ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    flow_id: str
    title: str
    order: int


@dataclass(frozen=True)
class _Table:
    """One language: its services and their title and secondary columns."""

    entries: tuple[_Entry, ...]
    zh: bool
    titles: _Forms
    secondary: _Forms | None  # every weaker text, owned by service * 8 + kind
    tie: tuple[int, ...]  # each service's place among equal scores (shorter title, order)

    @staticmethod
    def ties(entries: tuple[_Entry, ...]) -> tuple[int, ...]:
        ranked = sorted(range(len(entries)), key=lambda i: (
            len(entries[i].title), entries[i].order, entries[i].flow_id))
        place = [0] * len(entries)
        for rank, i in enumerate(ranked):
            place[i] = rank
        return tuple(place)


def _fold_table(pairs: Iterable[tuple[str, str]]) -> dict[int, str]:
    """Traditional -> Simplified for the characters of aligned (zh_HK, zh_CN) strings."""
    fold: dict[int, str] = {}
    for hk, cn in pairs:
        if len(hk) == len(cn):
            for t, s in zip(hk, cn, strict=True):
                if t != s and is_han(t) and is_han(s):
                    fold[ord(t)] = s
    return fold


def _zone_title(zone_titles: Mapping[str, Mapping[str, str]] | None, locale: str,
                zone: str) -> str:
    """zone_titles is locale -> zone id -> title (zone id -> locale -> title works too)."""
    if not zone or not zone_titles:
        return ""
    by_locale = zone_titles.get(locale)
    if by_locale is not None and zone in by_locale:
        return by_locale[zone]
    return (zone_titles.get(zone) or {}).get(locale, "")


def _is_key(word: str, t: Translator) -> bool:
    """A keyword may be a string key of the package (translated) or plain text."""
    has = getattr(t, "has", None)
    return bool(has(word)) if callable(has) and "." in word else False


def _table(flows: list[FlowDef], locale: str, translators: Mapping[str, Translator],
           fold: Mapping[int, str], zone_titles: Mapping[str, Mapping[str, str]] | None,
           memo: dict[str, tuple[str, str, str, str, str]],
           all_titles: Mapping[str, list[str]]) -> _Table:
    t = translators[locale]
    zh = locale in ZH_LOCALES
    entries: list[_Entry] = []
    titles: list[tuple[int, str]] = []
    groups: dict[str, list[tuple[int, str]]] = {why: [] for why, _ in SECONDARY}
    for i, f in enumerate(flows):
        title = all_titles[locale][i]
        entries.append(_Entry(f.id, title, f.order))
        titles.append((i, title))
        for other in translators:
            text = all_titles[other][i] if other != locale else ""
            if not text or text == title:
                continue
            # the other script's title is the same title to a reader of either
            same = zh and other in ZH_LOCALES
            (titles if same else groups["translation"]).append((i, text))
        groups["keyword"] += [(i, str(t(k)) if _is_key(k, t) else k) for k in f.keywords]
        if f.department:
            groups["department"].append((i, str(t(f.department))))
        if zone := _zone_title(zone_titles, locale, f.zone):
            groups["zone"].append((i, zone))
        if f.category:
            groups["category"].append((i, str(t(f"category.{f.category}"))))
    lines = [(owner * 8 + k, text) for k, (why, _) in enumerate(SECONDARY)
             for owner, text in groups[why]]
    secondary = _Forms.of(lines, fold, memo) if lines else None
    return _Table(tuple(entries), zh, _Forms.of(titles, fold, memo), secondary,
                  _Table.ties(tuple(entries)))


class CatalogIndex:
    """Every service's search forms in every language, ready for per-keystroke search."""

    def __init__(self, tables: Mapping[str, _Table], fold: Mapping[int, str]) -> None:
        self._tables = tables
        self._fold = fold

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def __len__(self) -> int:
        return max((len(v.entries) for v in self._tables.values()), default=0)

    @classmethod
    def build(cls, flows: Iterable[FlowDef], translators: Mapping[str, Translator],
              zone_titles: Mapping[str, Mapping[str, str]] | None = None) -> CatalogIndex:
        """Index `flows` (in catalog order) in each language of `translators`."""
        flows = list(flows)
        fold = cls._fold_for(flows, translators)
        memo: dict[str, tuple[str, str, str, str, str]] = {}
        titles = {loc: [str(t(f.title)) for f in flows] for loc, t in translators.items()}
        index = cls({loc: _table(flows, loc, translators, fold, zone_titles, memo, titles)
                     for loc in translators}, fold)
        _save_readings()
        if _STORE["path"] is not None and _pypinyin.cache_info().currsize == 0:
            # A query typed in characters still needs pypinyin (its sound): import it
            # now, off the UI thread, rather than on the citizen's first keystroke.
            threading.Thread(target=_pypinyin, name="pypinyin-import", daemon=True).start()
        return index

    @staticmethod
    def _fold_for(flows: list[FlowDef], translators: Mapping[str, Translator]
                  ) -> dict[int, str]:
        hk, cn = translators.get("zh_HK"), translators.get("zh_CN")
        if hk is None or cn is None:
            return {}
        keys: dict[str, None] = {}
        for f in flows:
            keys.update(dict.fromkeys(k for k in (f.title, f.subtitle, f.department) if k))
            if f.category:
                keys[f"category.{f.category}"] = None
        return _fold_table((str(hk(k)), str(cn(k))) for k in keys)

    def search(self, query: str, locale: str, limit: int = 50) -> list[Hit]:
        """Services for `query` in `locale`'s titles, best first (at most `limit`)."""
        table = self._tables.get(locale)
        if table is None:
            raise KeyError(f"no index for locale {locale!r} (have {', '.join(self._tables)})")
        q = _Query.parse(query[:QUERY_MAX], self._fold)
        if not (q.chars or q.letters or q.tokens):
            return []
        s = _Scores()
        _score_titles(q, table.titles, table.zh, s)
        if table.secondary is not None:
            _score_secondary(q, table.secondary, s)
        _score_fuzzy(q, table.titles, table.zh, s)
        if q.sound and not q.mixed and table.secondary is not None:
            # 徵信 for the keyword 征信, whatever the script
            sounds = table.secondary.sylls.matches(_sound_pattern(q.sound))
            s.add({code >> 3 for code in sounds}, SCORE_SOUND, "sound")
        tie = table.tie
        ranked = sorted([(-score, tie[i], i, why) for i, (score, why) in s.best.items()])
        return [Hit(table.entries[i].flow_id, table.entries[i].title, -neg, why)
                for neg, _, i, why in ranked[:limit]]
