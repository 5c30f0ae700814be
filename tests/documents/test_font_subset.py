"""The embedded CJK font: reportlab's subsetter reads the 15 MiB `glyf` table through a
view of the font file instead of a copy per document; the subsets it writes must be the
very same bytes as with reportlab's copying path, composite glyphs included."""

from __future__ import annotations

from struct import unpack

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from kiosk.documents.fonts import CJK_FONT_NAME, TableView, find_cjk_font, register_cjk_font


def plain_face():  # type: ignore[no-untyped-def]
    path = find_cjk_font()
    kwargs = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
    return TTFont("PlainCJK", str(path), **kwargs).face


def composite_chars(face, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Characters drawn by composite glyphs (the subsetter rewrites their references)."""
    glyf, out = face.get_table("glyf"), []
    for cp, gi in sorted(face.charToGlyph.items()):
        pos, end = face.glyphPos[gi], face.glyphPos[gi + 1]
        if end - pos > 2 and unpack(">h", glyf[pos:pos + 2])[0] < 0:
            out.append(cp)
            if len(out) == n:
                break
    return out


def test_glyf_is_a_view_and_subsets_are_byte_identical() -> None:
    register_cjk_font()
    font = pdfmetrics.getFont(CJK_FONT_NAME)
    assert isinstance(font, TTFont)
    face = font.face
    table = face.get_table("glyf")
    assert isinstance(table, TableView) and len(table) > 1_000_000
    plain = plain_face()
    whole = plain.get_table("glyf")
    assert isinstance(whole, bytes) and len(whole) == len(table)
    assert table[1000:1100] == whole[1000:1100] and isinstance(table[0:4], bytes)
    text = "社会保险参保缴费证明 第1页/共1页 验证码 AB12-CD34 ¥1,234.56 東莞（繁體）"
    glyphs = sorted({ord(ch) for ch in text} | {0x20})
    composite = composite_chars(plain, 150)
    assert len(composite) == 150
    for subset in (glyphs, composite):
        assert face.makeSubset(subset) == plain.makeSubset(subset)
