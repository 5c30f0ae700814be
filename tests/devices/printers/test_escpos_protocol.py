"""Exact bytes of the ESC/POS encoder (checked against the ESC/POS command reference)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.receipt import escpos_protocol as p
from kiosk.devices.receipt.model import (
    Align,
    Cut,
    Feed,
    PaperProfile,
    QrCode,
    QrMode,
    Receipt,
    Rule,
    SizeCommand,
    TextLine,
)


def test_init_and_chinese_mode_start_every_job() -> None:
    assert p.encode_receipt(Receipt(())) == b"\x1b\x40\x1c\x26"


@pytest.mark.parametrize("align,byte", [(Align.LEFT, 0), (Align.CENTER, 1), (Align.RIGHT, 2)])
def test_align(align: Align, byte: int) -> None:
    assert p.cmd_align(align) == bytes([0x1B, 0x61, byte])


def test_bold() -> None:
    assert p.cmd_bold(True) == b"\x1b\x45\x01" and p.cmd_bold(False) == b"\x1b\x45\x00"


@pytest.mark.parametrize("dw,dh,gs,fs,esc", [
    (False, False, 0x00, 0x00, 0x00), (True, False, 0x10, 0x04, 0x20),
    (False, True, 0x01, 0x08, 0x10), (True, True, 0x11, 0x0C, 0x30)])
def test_sizes_for_ascii_and_kanji(dw: bool, dh: bool, gs: int, fs: int, esc: int) -> None:
    assert p.cmd_size(dw, dh, SizeCommand.GS) == bytes([0x1D, 0x21, gs])
    assert p.cmd_size(dw, dh, SizeCommand.FS) == bytes([0x1B, 0x21, esc, 0x1C, 0x21, fs])
    assert p.cmd_size(dw, dh, SizeCommand.BOTH) == bytes([0x1D, 0x21, gs, 0x1C, 0x21, fs])


def test_cut_feed_and_cut() -> None:
    assert p.cmd_cut(False, 4) == b"\x1d\x56\x41\x04"
    assert p.cmd_cut(True, 3) == b"\x1d\x56\x42\x03"
    assert p.cmd_feed(3) == b"\x1b\x64\x03"
    with pytest.raises(p.EncodeError):
        p.cmd_feed(256)


def test_native_qr_function_blocks() -> None:
    data = "http://x/v/AB"
    n = len(data) + 3
    assert p.cmd_qr_native(data, 6) == (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # fn 165 model 2
        b"\x1d(k\x03\x00\x31\x43\x06"  # fn 167 module size 6
        b"\x1d(k\x03\x00\x31\x45\x31"  # fn 169 EC level M
        + b"\x1d(k" + bytes([n, 0]) + b"\x31\x50\x30" + data.encode()  # fn 180 store
        + b"\x1d(k\x03\x00\x31\x51\x30")  # fn 181 print


@pytest.mark.parametrize("size", [0, 17])
def test_qr_size_out_of_range_is_a_typed_error(size: int) -> None:
    with pytest.raises(p.EncodeError):
        p.cmd_qr_native("x", size)


def test_qr_image_fallback_is_a_raster_of_the_right_size() -> None:
    prof = PaperProfile.named("58mm").with_options(qr=QrMode.IMAGE)
    out = p.encode_receipt(Receipt((QrCode("http://x/v/AB", 6),)), prof)
    i = out.index(b"\x1dv0\x00")
    wb, h = out[i + 4] | out[i + 5] << 8, out[i + 6] | out[i + 7] << 8
    assert wb * 8 <= prof.dots and h > 20
    assert len(out) == i + 8 + wb * h + len(p.cmd_align(Align.LEFT))
    assert b"\x1d(k" not in out


@pytest.mark.parametrize("text,expected", [
    ("，。：￥", b"\xa3\xac\xa1\xa3\xa3\xba\xa3\xa4"),  # full-width punctuation, GB2312 area
    ("莞", b"\xdd\xb8"),
    ("㐀", b"\x81\x39\xee\x39"),  # CJK extension A: GB18030 four-byte form
    ("𠀀", b"\x95\x32\x82\x36"),  # CJK extension B (outside the BMP)
    ("A1", b"A1"),
])
def test_gb18030_text(text: str, expected: bytes) -> None:
    assert p.encode_text(text) == expected


def test_a_whole_small_receipt_byte_for_byte() -> None:
    r = Receipt((TextLine("凭条", Align.CENTER, bold=True, double_width=True,
                          double_height=True), TextLine("金额：￥5"), Rule("="), Feed(2),
                 Cut(partial=True)))
    prof = PaperProfile.named("58mm")
    assert p.encode_receipt(r, prof) == (
        b"\x1b@\x1c&"
        b"\x1ba\x01\x1bE\x01\x1d!\x11\x1c!\x0c" + "凭条".encode("gb18030") + b"\n"
        b"\x1ba\x00\x1bE\x00\x1d!\x00\x1c!\x00" + "金额：￥5".encode("gb18030") + b"\n"
        b"\x1ba\x00\x1bE\x00\x1d!\x00\x1c!\x00" + b"=" * 32 + b"\n"
        b"\x1bd\x02"
        b"\x1dVB\x04")


def test_long_lines_wrap_to_the_paper_and_punctuation_never_starts_a_line() -> None:
    lines = p.wrap_text("一二三四五六七八九十一二三四五六，七", 32)
    assert lines == ["一二三四五六七八九十一二三四五", "六，七"]
    assert all(p.display_width(x) <= 32 for x in p.wrap_text("温馨提示：" * 20, 32))
    assert p.wrap_text("see https://example.gov.cn/verify/ABCDEFG", 20)[1].startswith("https")


def test_double_width_text_wraps_at_half_the_columns() -> None:
    out = p.encode_line(TextLine("一二三四五六七八九十", double_width=True),
                        PaperProfile.named("58mm"))
    assert out.count(b"\n") == 2


@given(st.text(max_size=200), st.integers(min_value=2, max_value=64))
def test_wrap_never_loses_text_or_overflows(text: str, columns: int) -> None:
    lines = p.wrap_text(text, columns)
    assert "".join("".join(lines).split()) == "".join(text.split())
    assert all(p.display_width(x) <= columns for x in lines)


@given(st.text(max_size=120))
def test_any_text_encodes(text: str) -> None:
    out = p.encode_receipt(Receipt((TextLine(text), Cut())))
    assert out.startswith(b"\x1b@\x1c&") and out.endswith(b"\x1dVA\x04")


def test_data_cannot_inject_printer_commands() -> None:
    out = p.encode_receipt(Receipt((TextLine("张\x1bi\x1dV\x00三"),)))
    assert out.endswith("张iV三".encode("gb18030") + b"\n")
