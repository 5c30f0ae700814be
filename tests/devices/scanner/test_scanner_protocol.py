"""Scanner line framing: byte vectors for every suffix, gaps, limits and bad input; fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.scanner.protocol import (
    HONEYWELL_TRIGGER_OFF,
    HONEYWELL_TRIGGER_ON,
    NOREAD_MARKERS,
    DuplicateFilter,
    FrameKind,
    FramerConfig,
    LineFramer,
    Suffix,
    classify,
    fingerprint,
)


def frames(suffix: Suffix, chunks: list[bytes], gap_s: float = 0.2, max_len: int = 64,
           step: float = 0.001, final_wait: float = 0.0) -> list[tuple[str, str]]:
    """Feed chunks `step` seconds apart, then wait; return (kind, code) pairs."""
    f = LineFramer(FramerConfig(suffix, gap_s, max_len))
    out = []
    now = 100.0
    for c in chunks:
        out += f.feed(c, now)
        now += step
    out += f.poll(now + final_wait)
    return [(x.kind.value, x.code) for x in out]


@pytest.mark.parametrize("suffix,chunks,expected", [
    (Suffix.CR, [b"ABC\r"], ["ABC"]),
    (Suffix.CR, [b"ABC\rDEF\r"], ["ABC", "DEF"]),
    (Suffix.CR, [b"AB", b"C", b"\r"], ["ABC"]),
    (Suffix.CR, [b"ABC\r\nDEF\r\n"], ["ABC", "DEF"]),          # scanner sends CRLF
    (Suffix.CR, [b"ABC\r", b"\nDEF\r", b"\n"], ["ABC", "DEF"]),  # LF in the next read
    (Suffix.LF, [b"ABC\n"], ["ABC"]),
    (Suffix.LF, [b"ABC\r\nDEF\r\n"], ["ABC", "DEF"]),
    (Suffix.CRLF, [b"ABC\r\n"], ["ABC"]),
    (Suffix.CRLF, [b"ABC\r", b"\n"], ["ABC"]),                   # suffix split over reads
    (Suffix.CRLF, [b"A\rB\r\n"], ["garbage"]),                   # lone CR is data: a control
    (Suffix.CR, [b"\r\r\n\r"], []),                              # stray suffixes: nothing
    (Suffix.CR, ["身份码-東莞\r".encode()], ["身份码-東莞"]),
    (Suffix.CR, ["东莞\r".encode("gb18030")], ["东莞"]),
    (Suffix.CR, [b"%%NoRead\r"], ["noread"]),
    (Suffix.CR, [b"\x00\xff\x13\r"], ["garbage"]),
    (Suffix.CR, [b"AB\x07C\r"], ["garbage"]),
    (Suffix.CR, [b"  GJ1 \r"], ["GJ1"]),
])
def test_suffix_framing(suffix: Suffix, chunks: list[bytes], expected: list[str]) -> None:
    got = frames(suffix, chunks)
    assert [code if kind == "code" else kind for kind, code in got] == expected


def test_gap_ends_a_code_without_suffix() -> None:
    assert frames(Suffix.NONE, [b"ABC", b"DEF"], final_wait=0.0) == []
    assert frames(Suffix.NONE, [b"ABC", b"DEF"], final_wait=0.3) == [("code", "ABCDEF")]


def test_gap_is_a_fallback_when_the_suffix_never_comes() -> None:
    # Scanner set to no suffix although we expect CR: codes still come through.
    f = LineFramer(FramerConfig(Suffix.CR, gap_s=0.2))
    assert f.feed(b"FIRST", 0.0) == []
    assert f.deadline() == pytest.approx(0.2)
    assert f.poll(0.1) == []
    assert [x.code for x in f.poll(0.25)] == ["FIRST"]
    # The next bytes after a gap start a new code even before poll() runs.
    assert f.feed(b"SECOND", 1.0) == []
    out = f.feed(b"THIRD\r", 2.0)
    assert [x.code for x in out] == ["SECOND", "THIRD"]


def test_slow_split_within_gap_is_one_code() -> None:
    assert frames(Suffix.CR, [b"AB", b"CD\r"], step=0.1) == [("code", "ABCD")]


def test_gap_zero_disables_fallback() -> None:
    f = LineFramer(FramerConfig(Suffix.CR, gap_s=0))
    f.feed(b"PARTIAL", 0.0)
    assert f.poll(1000.0) == []
    assert f.deadline() is None
    assert [x.code for x in f.feed(b"\r", 1001.0)] == ["PARTIAL"]


def test_oversized_input_is_discarded_then_framing_recovers() -> None:
    f = LineFramer(FramerConfig(Suffix.CR, gap_s=0.2, max_len=16))
    out = f.feed(b"X" * 10, 0.0) + f.feed(b"X" * 40, 0.01)
    assert out == []
    assert f.pending <= 16
    out = f.feed(b"XXXX\rOK\r", 0.02)
    assert [(x.kind, x.size) for x in out] == [(FrameKind.OVERSIZE, 54), (FrameKind.CODE, 2)]
    assert out[1].code == "OK"


def test_oversized_in_one_read_and_by_gap() -> None:
    f = LineFramer(FramerConfig(Suffix.CR, gap_s=0.2, max_len=8))
    out = f.feed(b"123456789\rAB\r", 0.0)
    assert [x.kind for x in out] == [FrameKind.OVERSIZE, FrameKind.CODE]
    f.feed(b"Y" * 100, 1.0)
    out = f.poll(2.0)
    assert [(x.kind, x.size) for x in out] == [(FrameKind.OVERSIZE, 100)]
    assert [x.code for x in f.feed(b"Z\r", 3.0)] == ["Z"]


def test_reset_forgets_a_partial_frame() -> None:
    f = LineFramer(FramerConfig(Suffix.CR))
    f.feed(b"HALF", 0.0)
    f.reset()
    assert [x.code for x in f.feed(b"NEW\r", 0.01)] == ["NEW"]


def test_garbage_log_fields_never_carry_the_payload() -> None:
    secret = b"GJ1PSECRETTOKEN\x00"
    fr = classify(secret)
    assert fr.kind is FrameKind.GARBAGE
    assert "SECRET" not in repr(fr) and "SECRET" not in fr.fingerprint
    assert fingerprint(secret).startswith("len=16 sha256=")
    ok = classify(b"GJ1PSECRETTOKEN")
    assert "SECRET" not in repr(ok)


def test_duplicate_window() -> None:
    d = DuplicateFilter(1.5)
    assert d.accept("A", 0.0)
    assert not d.accept("A", 1.0)
    assert not d.accept("A", 2.0)  # still presented: the window slides with each read
    assert d.accept("A", 4.0)
    assert d.accept("B", 4.1)
    assert d.accept("A", 4.2)
    d.reset()
    assert d.accept("A", 4.3)
    assert DuplicateFilter(0).accept("A", 0) and DuplicateFilter(0).accept("A", 0)


def test_honeywell_trigger_bytes() -> None:
    assert bytes.fromhex("16540d") == HONEYWELL_TRIGGER_ON
    assert bytes.fromhex("16550d") == HONEYWELL_TRIGGER_OFF


@pytest.mark.parametrize("name,expected", [("cr", Suffix.CR), ("CRLF", Suffix.CRLF),
                                           ("lf", Suffix.LF), ("", Suffix.NONE),
                                           ("none", Suffix.NONE)])
def test_suffix_parse(name: str, expected: Suffix) -> None:
    assert Suffix.parse(name) is expected


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown suffix"):
        Suffix.parse("TAB")
    with pytest.raises(ValueError):
        FramerConfig(max_len=0)
    with pytest.raises(ValueError):
        FramerConfig(gap_s=-1)
    with pytest.raises(ValueError, match="inter-character"):
        FramerConfig(Suffix.NONE, gap_s=0)


# -- fuzzing -------------------------------------------------------------------------------
SUFFIXES = st.sampled_from([Suffix.CR, Suffix.LF, Suffix.CRLF, Suffix.NONE])


@settings(max_examples=300, deadline=None)
@given(suffix=SUFFIXES, chunks=st.lists(st.binary(max_size=80), max_size=30),
       gaps=st.lists(st.floats(0, 0.5), min_size=30, max_size=30),
       max_len=st.integers(1, 100))
def test_fuzz_never_crashes_and_stays_bounded(suffix: Suffix, chunks: list[bytes],
                                              gaps: list[float], max_len: int) -> None:
    f = LineFramer(FramerConfig(suffix, 0.2, max_len))
    now = 0.0
    for chunk, gap in zip(chunks, gaps, strict=False):
        now += gap
        for fr in f.feed(chunk, now):
            assert fr.kind in FrameKind
            if fr.kind is FrameKind.CODE:
                assert 0 < fr.size <= max_len
                assert "\r" not in fr.code and "\n" not in fr.code
        assert f.pending <= max_len + 2
        f.poll(now + gap / 2)
    f.poll(now + 1)
    assert f.pending == 0


CODE_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF,
                                  blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                    min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(suffix=st.sampled_from([Suffix.CR, Suffix.LF, Suffix.CRLF]),
       codes=st.lists(CODE_TEXT, min_size=1, max_size=8), data=st.data())
def test_fuzz_codes_survive_any_split(suffix: Suffix, codes: list[str], data) -> None:
    stream = b"".join(c.encode("utf-8") + suffix.value for c in codes)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=False)]
    f = LineFramer(FramerConfig(suffix, gap_s=0.2, max_len=4096))
    out = []
    for i, p in enumerate(pieces):
        out += f.feed(p, i * 0.001)
    assert [x.code for x in out if x.kind is FrameKind.CODE] == \
        [c.strip(" \t") for c in codes if c.strip(" \t") not in NOREAD_MARKERS]
