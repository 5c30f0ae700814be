#!/usr/bin/env python3
"""Draw a (clearly synthetic) round office seal PNG with transparent background.

Usage: scripts/make_seal.py "东莞市社会保险基金管理中心" "业务专用章" OUT.png
The seal carries the word 样章 (specimen) so nobody mistakes a demo print for a
real certificate.
"""

from __future__ import annotations

import math
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def make_seal(ring_text: str, bottom_text: str, out: str, size: int = 600) -> None:
    red = (200, 20, 30, 235)
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = size / 2
    d.ellipse([12, 12, size - 12, size - 12], outline=red, width=16)
    # five-pointed star
    r_out, r_in = size * 0.15, size * 0.06
    pts = []
    for k in range(10):
        r = r_out if k % 2 == 0 else r_in
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    d.polygon(pts, fill=red)
    # ring text along the upper arc
    font = ImageFont.truetype(FONT, int(size * 0.085))
    n = len(ring_text)
    span = math.radians(250)
    radius = size * 0.36
    for k, ch in enumerate(ring_text):
        a = -math.pi / 2 - span / 2 + span * (k + 0.5) / n
        x, y = c + radius * math.cos(a), c + radius * math.sin(a)
        glyph = Image.new("RGBA", (int(size * 0.12), int(size * 0.12)), (0, 0, 0, 0))
        gd = ImageDraw.Draw(glyph)
        gd.text((glyph.width / 2, glyph.height / 2), ch, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        img.alpha_composite(glyph, (int(x - glyph.width / 2), int(y - glyph.height / 2)))
    small = ImageFont.truetype(FONT, int(size * 0.075))
    d.text((c, c + size * 0.22), bottom_text, font=small, fill=red, anchor="mm")
    d.text((c, c + size * 0.33), "样章", font=ImageFont.truetype(FONT, int(size * 0.06)),
           fill=red, anchor="mm")
    img.save(out)


if __name__ == "__main__":
    make_seal(sys.argv[1], sys.argv[2], sys.argv[3])
