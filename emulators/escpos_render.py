"""Draw decoded ESC/POS events as an approximate receipt picture (Pillow + CJK font).

Font A geometry: ASCII 12x24 dots, Chinese 24x24, 576 dots across on 80 mm paper
(384 on 58 mm). Lines wider than the paper wrap as a printer would.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from emulators.escpos_decoder import Event, Style

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
CELL_W, CELL_H, LINE_H, MARGIN = 12, 24, 30, 16


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in (os.environ.get("KIOSK_CJK_FONT", ""), *FONT_CANDIDATES):
        if path and Path(path).is_file():
            return ImageFont.truetype(path, CELL_H)
    return ImageFont.load_default()


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _text_rows(text: str, style: Style, dots: int) -> list[str]:
    per = dots // (CELL_W * (2 if style.double_width else 1))
    rows, cur, w = [], "", 0
    for ch in text:
        c = _cells(ch)
        if w + c > per:
            rows.append(cur)
            cur, w = "", 0
        cur, w = cur + ch, w + c
    rows.append(cur)
    return rows


def _draw_text_row(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str, style: Style,
                   dots: int) -> Image.Image:
    cells = sum(_cells(c) for c in text)
    img = Image.new("L", (max(1, cells * CELL_W), LINE_H), 255)
    d = ImageDraw.Draw(img)
    x = 0
    for ch in text:
        d.text((x, 2), ch, font=font, fill=0, stroke_width=1 if style.bold else 0,
               stroke_fill=0)
        x += _cells(ch) * CELL_W
    sx = 2 if style.double_width else 1
    sy = 2 if style.double_height else 1
    if sx != 1 or sy != 1:
        img = img.resize((img.width * sx, img.height * sy), Image.Resampling.NEAREST)
    return img


def _qr_image(data: str, size: int) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(box_size=max(1, size), border=2)
    qr.add_data(data.encode("utf-8"))
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("L")


def _raster_image(value: dict) -> Image.Image:
    w, h, data = value["width"], value["height"], value["data"]
    img = Image.frombytes("1", (w, h), bytes(data))
    return Image.eval(img.convert("L"), lambda p: 255 - p)


def render_png(events: Iterable[Event], path: Path | str, dots: int = 576) -> Path:
    """Write a PNG picture of the printed events; returns the path."""
    font = _font()
    blocks: list[tuple[Image.Image, str]] = []
    for e in events:
        st = e.style or Style()
        if e.kind == "text":
            for row in _text_rows(e.value, st, dots):
                blocks.append((_draw_text_row(font, row, st, dots), st.align))
        elif e.kind == "feed":
            blocks.extend((Image.new("L", (1, LINE_H), 255), "left") for _ in range(e.value))
        elif e.kind == "qr":
            blocks.append((_qr_image(e.value, int(e.extra.get("size", 3))), st.align))
        elif e.kind == "image":
            blocks.append((_raster_image(e.value), st.align))
        elif e.kind == "cut":
            cut = Image.new("L", (dots, 20), 255)
            ImageDraw.Draw(cut).line((0, 10, dots, 10), fill=120, width=2)
            blocks.append((cut, "left"))
    height = sum(b.height for b, _ in blocks) + 2 * MARGIN
    page = Image.new("L", (dots + 2 * MARGIN, max(height, 2 * MARGIN + LINE_H)), 255)
    y = MARGIN
    for img, align in blocks:
        if img.width > dots:
            img = img.crop((0, 0, dots, img.height))
        x = MARGIN + {"center": (dots - img.width) // 2, "right": dots - img.width}.get(align, 0)
        page.paste(img, (x, y))
        y += img.height
    out = Path(path)
    page.save(out)
    return out
