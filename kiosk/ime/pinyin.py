"""A small pinyin input method that knows the terminal's domain.

Candidates for the letters typed so far come from two sources:

* phrases: a built-in vocabulary of government-service words plus whatever the caller
  adds (matter names from the service guide, flow titles). A phrase matches by full
  pinyin (`gongjijin`), by initials (`gjj`) or by syllable prefixes (`gongjj`);
* single characters: every character whose pinyin is the first syllable typed,
  common characters (GB2312 level 1) first.

Pinyin readings come from `pypinyin` (its character and phrase dictionaries), so
polyphones in phrases (银行 → yin hang) are read right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

# Words citizens look for at a government terminal; callers add their own.
DOMAIN_WORDS = (
    "社保", "社会保险", "医保", "养老保险", "医疗保险", "失业保险", "工伤保险", "生育保险",
    "公积金", "住房公积金", "贷款", "还款", "提取", "个人所得税", "纳税", "完税证明", "税务",
    "不动产", "无房证明", "房产", "登记", "户籍", "户口", "居住证", "身份证", "社保卡",
    "证明", "打印", "查询", "预约", "取号", "办事指南", "营业执照", "结婚登记", "出生证明",
    "退休", "养老金", "低保", "残疾人", "驾驶证", "出入境", "港澳通行证", "护照", "教育",
    "入学", "积分", "人才", "就业", "失业登记", "医疗", "生育津贴", "参保", "缴费", "明细",
    "东莞", "广东", "莞家政务", "服务", "评价", "帮助", "窗口", "排队",
)

# The most frequent characters of modern written Chinese, most frequent first: they lead
# the single-character candidates of their syllable (order within the rest: GB2312).
COMMON = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生"
    "自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与"
    "好看学进种将还分此心前面又定见只主没公从已现动两长知民样开手实把机工者回意新正明"
    "问力理尔点文几性本高全业外次间表关其电部平水身区代办号码证保社险金积房税务费查印"
)


def _toneless(p: str) -> str:
    table = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
    return p.translate(table)


@lru_cache(maxsize=1)
def _char_index() -> dict[str, list[str]]:
    """Toneless syllable -> characters, common characters first."""
    from pypinyin.pinyin_dict import pinyin_dict

    index: dict[str, list[tuple[int, int, str]]] = {}
    for code, readings in pinyin_dict.items():
        ch = chr(code)
        try:
            gb = ch.encode("gb2312")
            level = 0 if 0xB0 <= gb[0] <= 0xD7 else 1
        except UnicodeEncodeError:
            level = 2
        for k, reading in enumerate(readings.split(",")):
            syl = _toneless(reading.strip())
            index.setdefault(syl, []).append((level, k, ch))
    rank = {ch: i for i, ch in enumerate(COMMON)}
    return {s: [c for *_, c in sorted((rank.get(c, len(rank)), lv, k, c) for lv, k, c in v)]
            for s, v in index.items()}


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    return frozenset(_char_index())


@dataclass(frozen=True)
class _Phrase:
    text: str
    sylls: tuple[str, ...]

    @property
    def full(self) -> str:
        return "".join(self.sylls)

    @property
    def initials(self) -> str:
        return "".join(s[0] for s in self.sylls)


def _reading(text: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple(_toneless(p) for p in lazy_pinyin(text, errors="ignore"))


def _prefix_match(letters: str, sylls: tuple[str, ...]) -> bool:
    """Can `letters` be cut into non-empty prefixes of the phrase's syllables, in order?"""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(letters):
            return True
        if j == len(sylls):
            return False
        s = sylls[j]
        return any(letters.startswith(s[:k], i) and go(i + k, j + 1)
                   for k in range(1, len(s) + 1))

    return go(0, 0)


class PinyinIME:
    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self._phrases: dict[str, _Phrase] = {}
        self.add_words(DOMAIN_WORDS)
        self.add_words(vocabulary)

    def add_words(self, words: Iterable[str]) -> None:
        for w in words:
            w = w.strip()
            if len(w) >= 2 and w not in self._phrases:
                sylls = _reading(w)
                if len(sylls) == len(w):  # only all-Chinese words
                    self._phrases[w] = _Phrase(w, sylls)

    def candidates(self, letters: str, limit: int = 30) -> list[str]:
        """Chinese candidates for lower-case pinyin letters, best first."""
        letters = letters.lower()
        if not letters or not letters.isalpha():
            return []
        scored: list[tuple[int, int, str]] = []
        for p in self._phrases.values():
            if p.full == letters:
                rank = 0
            elif p.full.startswith(letters) and len(letters) >= 2:
                rank = 1
            elif len(letters) >= 2 and p.initials.startswith(letters):
                rank = 2
            elif len(letters) >= 2 and _prefix_match(letters, p.sylls):
                rank = 3
            else:
                continue
            scored.append((rank, len(p.text), p.text))
        out = [t for _, _, t in sorted(scored)]
        out += self._chars_for(letters)
        seen: set[str] = set()
        unique = [c for c in out if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]
        return unique[:limit]

    @staticmethod
    def _chars_for(letters: str) -> list[str]:
        index = _char_index()
        # the longest complete syllable at the start, else every syllable it begins
        for end in range(min(6, len(letters)), 0, -1):
            if letters[:end] in index:
                return index[letters[:end]][:60]
        starts = [s for s in index if s.startswith(letters)]
        chars: list[str] = []
        for s in sorted(starts, key=len):
            chars.extend(index[s][:8])
        return chars[:60]

    @staticmethod
    def consumed(letters: str, candidate: str) -> int:
        """How many typed letters a chosen candidate stands for (the rest stay typed)."""
        sylls = _reading(candidate)
        full = "".join(sylls)
        if letters.startswith(full):
            return len(full)
        # initials or prefixes: a phrase choice consumes everything typed
        if len(candidate) > 1:
            return len(letters)
        for end in range(min(6, len(letters)), 0, -1):
            if letters[:end] in syllables():
                return end
        return len(letters)
