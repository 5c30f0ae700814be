"""Photographs of printed pages with known corners, for the document-capture tests and bench.

A page is "printed" to PDF (reportlab, the kiosk's CJK font: an invented application
form with a table and a red seal), rendered with pdfium, then "photographed": laid on
a desk texture under a perspective with known corners, with a shadow across it, the
lamp's fall-off, clutter around it (a phone, a card, a pen, a sheet of another colour),
sensor noise, a little blur and JPEG compression. `make_photo(seed, size)` returns the
photo and its truth (the four page corners in photo pixels: top-left, top-right,
bottom-right, bottom-left). Everything is generated at test time; nothing personal.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

A4_MM = (210.0, 297.0)


@dataclass(frozen=True)
class Scene:
    """What the photograph shows besides the page (each a named condition in tests)."""

    tilt_deg: float = 0.0  # rotation of the page on the desk
    perspective: float = 0.10  # how far the camera leans (0: straight above)
    fill: float = 0.70  # the page's height as a fraction of the photo's
    shadow: float = 0.0  # 0..1: darkness of a hand/arm shadow across the page
    clutter: int = 0  # objects around the page
    noise: float = 4.0  # sensor noise (grey levels, sigma)
    desk: str = "wood"  # "wood", "dark", "grey"
    white_clutter: bool = False  # the sheets beside the page are white paper too


SCENES: dict[str, Scene] = {
    "straight": Scene(tilt_deg=2.0, perspective=0.04),
    "skewed": Scene(tilt_deg=-11.0, perspective=0.12),
    "shadow": Scene(tilt_deg=5.0, perspective=0.10, shadow=0.55),
    "clutter": Scene(tilt_deg=-6.0, perspective=0.14, clutter=5, desk="grey"),
    "hard": Scene(tilt_deg=14.0, perspective=0.18, shadow=0.45, clutter=4, noise=7.0,
                  desk="dark", fill=0.62),
    "wood_small": Scene(tilt_deg=-3.0, perspective=0.08, fill=0.5, clutter=2),
    "white_things": Scene(tilt_deg=8.0, perspective=0.12, shadow=0.7, clutter=6,
                          desk="grey", white_clutter=True),
}


@lru_cache(maxsize=4)
def page_pdf(seed: int = 0) -> bytes:
    """A one-page A4 application form (invented text), as a PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from kiosk.documents.fonts import register_cjk_font

    font = register_cjk_font()
    rng = random.Random(seed)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    w, h = A4
    c.setFont(font, 20)
    c.drawCentredString(w / 2, h - 80, "东莞市居民业务办理申请表")
    c.setFont(font, 11)
    number = f"DG{rng.randrange(10**7, 10**8)}"
    c.drawString(60, h - 115, f"受理编号：{number}    申请日期：2026年12月02日")
    rows = ["申请人", "证件类型", "联系电话", "居住地址", "申请事项", "办理方式", "备注"]
    top = h - 140
    for i, label in enumerate(rows):
        y = top - i * 34
        c.rect(60, y - 34, w - 120, 34)
        c.line(160, y - 34, 160, y)
        c.drawString(70, y - 22, label)
        c.drawString(172, y - 22, "（示例）" + "东莞市南城街道" * rng.randint(0, 2))
    c.setFont(font, 11)
    y = top - len(rows) * 34 - 36
    text = ("本人承诺所提交的材料真实有效，如有虚假愿承担相应法律责任。申请材料经自助终端"
            "高拍仪采集后上传至政务服务平台，由窗口工作人员审核。")
    for k in range(0, len(text), 38):
        c.drawString(60, y, text[k:k + 38])
        y -= 20
    for n in range(12):
        c.drawString(60, y - 20 - n * 18, f"{n + 1}. " + "材料清单条目" * rng.randint(1, 5))
    c.setStrokeColorRGB(0.85, 0.1, 0.1)
    c.setFillColorRGB(0.85, 0.1, 0.1)
    c.setLineWidth(3)
    c.circle(w - 140, 130, 48)
    c.setFont(font, 12)
    c.drawCentredString(w - 140, 126, "受理专用章")
    c.showPage()
    c.save()
    return buf.getvalue()


@lru_cache(maxsize=4)
def page_image(width_px: int, seed: int = 0) -> Any:
    """The printed page rendered to numpy BGR at `width_px` wide."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(page_pdf(seed))
    try:
        page = doc[0]
        scale = width_px / page.get_width()
        pil = page.render(scale=scale).to_pil().convert("RGB")
    finally:
        doc.close()
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)
    img.setflags(write=False)
    return img


def _desk(h: int, w: int, kind: str, rng: np.random.Generator) -> Any:
    if kind == "wood":
        x = np.arange(w, dtype=np.float32)[None, :]
        y = np.arange(h, dtype=np.float32)[:, None]
        grain = np.sin(x / 17.0 + 3.0 * np.sin(y / 90.0)) * 14 + np.sin(x / 5.3) * 5
        base = np.empty((h, w, 3), np.float32)
        base[..., 0], base[..., 1], base[..., 2] = 60 + grain, 100 + grain, 150 + grain
    elif kind == "dark":
        base = np.full((h, w, 3), 45.0, np.float32)
    else:
        base = np.full((h, w, 3), 120.0, np.float32)
    small = rng.normal(0, 10, (max(2, h // 40), max(2, w // 40), 1)).astype(np.float32)
    return base + cv2.resize(small, (w, h))[..., None]


def _page_corners(size: tuple[int, int], s: Scene, rng: random.Random) -> Any:
    w, h = size
    ph = s.fill * h
    pw = ph / math.sqrt(2.0)
    cx, cy = w / 2 + rng.uniform(-0.06, 0.06) * w, h / 2 + rng.uniform(-0.04, 0.04) * h
    a = math.radians(s.tilt_deg)
    rect = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pts = rect @ rot.T
    # the camera leans towards the top: the far edge narrower, then random jitter
    pts[:, 0] *= 1.0 - s.perspective * (0.5 - (pts[:, 1] + ph / 2) / ph)
    pts += np.array([[rng.uniform(-1, 1) for _ in range(2)] for _ in range(4)]) \
        * s.perspective * 0.25 * pw
    return (pts + np.array([cx, cy])).astype(np.float32)


def _clutter(img: Any, corners: Any, n: int, rng: random.Random, white: bool = False
             ) -> None:
    """Things on the desk beside the page (they may touch it, never cover its corners)."""
    h, w = img.shape[:2]
    page = cv2.convexHull(corners.astype(np.int32))
    for _ in range(n * 6):
        if n <= 0:
            break
        kind = rng.choice(["phone", "card", "pen", "sheet"])
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if cv2.pointPolygonTest(page, (cx, cy), True) > -0.04 * w:
            continue  # keep its centre off the page
        size = {"phone": (0.09, 0.18), "card": (0.11, 0.07), "pen": (0.30, 0.012),
                "sheet": (0.22, 0.30)}[kind]
        box = ((cx, cy), (size[0] * w, size[1] * w), rng.uniform(0, 180))
        poly = cv2.boxPoints(box).astype(np.int32)
        if any(cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0
               for x, y in corners):
            continue
        colour = {"phone": (30, 30, 35), "card": (rng.randint(90, 200), 120, 60),
                  "pen": (160, 40, 20),
                  "sheet": (225, 228, 230) if white else (120, 200, 235)}[kind]
        cv2.fillConvexPoly(img, poly, colour, lineType=cv2.LINE_AA)
        if kind == "phone":
            inner = cv2.boxPoints(((cx, cy), (size[0] * w * 0.85, size[1] * w * 0.85), box[2]))
            cv2.fillConvexPoly(img, inner.astype(np.int32), (70, 60, 50), lineType=cv2.LINE_AA)
        n -= 1


def _lighting(h: int, w: int, s: Scene, rng: random.Random) -> Any:
    """A multiplier: the lamp's fall-off towards one side and a soft shadow band."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = rng.uniform(0.2, 0.8) * w, rng.uniform(0.1, 0.4) * h
    light = 1.0 - 0.25 * np.hypot(x - lx, y - ly) / math.hypot(w, h)
    if s.shadow > 0:
        a = math.radians(rng.uniform(20, 70))
        d = (x - w * rng.uniform(0.35, 0.6)) * math.cos(a) + (y - h / 2) * math.sin(a)
        band = 1.0 / (1.0 + np.exp(-d / (0.03 * w)))  # a soft edge, dark on one side
        light *= 1.0 - s.shadow * band
    return light


def make_photo(seed: int, size: tuple[int, int] = (1600, 1200), scene: Scene | None = None
               ) -> tuple[Any, Any]:
    """A photo (numpy BGR uint8, `size` = (width, height)) and its page corners (4x2)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    s = scene or Scene()
    w, h = size
    corners = _page_corners(size, s, rng)
    page = page_image(int(min(2480, s.fill * h / math.sqrt(2.0) * 1.3)), seed % 3)
    ph, pw = page.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)  # pixel edges
    m = cv2.getPerspectiveTransform(src, corners)
    photo = _desk(h, w, s.desk, nrng)
    _clutter_layer = photo.astype(np.uint8)
    _clutter(_clutter_layer, corners, s.clutter, rng, s.white_clutter)
    photo = _clutter_layer.astype(np.float32)
    warped = cv2.warpPerspective(page, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h),
                               flags=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    paper_tint = np.array([0.93, 0.95, 0.96], np.float32)  # slightly warm paper
    photo = photo * (1 - mask) + warped.astype(np.float32) * paper_tint * mask
    photo *= _lighting(h, w, s, rng)[..., None]
    photo = cv2.GaussianBlur(photo, (0, 0), 0.8)
    noise = np.empty(photo.shape, np.float32)
    cv2.setRNGSeed(seed)
    # numpy's normal() takes ten times as long here
    cv2.randn(noise, np.zeros(3), np.full(3, s.noise))
    photo += noise
    out = np.clip(photo, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR), corners


def corner_error(found: Any, truth: Any) -> float:
    """Mean distance in pixels between found and true corners (same order)."""
    f = np.asarray(found, np.float64).reshape(4, 2)
    t = np.asarray(truth, np.float64).reshape(4, 2)
    return float(np.linalg.norm(f - t, axis=1).mean())


def write_set(folder: str, size: tuple[int, int] = (1600, 1200)) -> list[dict[str, Any]]:
    """Write every scene as `NAME.jpg` and `truth.json` into `folder`; return the truth."""
    import json
    from pathlib import Path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    truth = []
    for i, (name, scene) in enumerate(SCENES.items()):
        photo, corners = make_photo(i + 1, size, scene)
        cv2.imwrite(str(out / f"{name}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
        truth.append({"file": f"{name}.jpg", "corners": corners.round(2).tolist()})
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


if __name__ == "__main__":
    import sys

    print(write_set(sys.argv[1] if len(sys.argv) > 1 else "doccam-photos"))
