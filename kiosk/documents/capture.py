"""Document capture (高拍仪): a photo of a paper page in, a clean page image out.

The pipeline, for one photo (numpy BGR, any size, e.g. a 12-megapixel still):

1. find the page: candidate outlines from masks of a small copy (edges, a
   bright-and-unsaturated map, Otsu on grey with the print closed over) are reduced to
   convex four-cornered outlines and scored by size and how well the outline fills
   its quad, so clutter beside the page and a shadow across it do not win;
2. refine the corners at full resolution: along each side, the strongest step from
   dark (outside) to bright (the paper) on short cross-section profiles, a robust line
   through those points, and the corners where neighbouring lines meet;
3. warp to the page's own aspect (snapped to A4 when it is close), then deskew what is
   printed on it by the angle of its text lines (small angles only);
4. even out the lighting: divide by the paper's brightness estimated with the print
   closed over, so a shadow or a lamp's fall-off leaves white paper and dark print.

Several pages become one PDF (`pages_pdf`), each page an embedded JPEG at its own
size. Pictures are held in memory only; callers decide what is written where.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

DETECT_SIDE = 800  # long side of the copy the page is looked for in
A4_RATIO = math.sqrt(2.0)  # 297 / 210
PAGE_DPI = 200  # resolution of the produced page when it is snapped to A4
MIN_PAGE_FRACTION = 0.08  # of the photo's area: anything smaller is not the page
MAX_DESKEW_DEG = 6.0


class CaptureError(Exception):
    """A photo that cannot be made a page; `key` is a translation key."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class CaptureSettings:
    colour: bool = True  # keep colour (red stamps); False: grey
    jpeg_quality: int = 85
    max_side: int = 2339  # the page's long side in pixels (A4 at 200 dpi)
    deskew: bool = True
    flatten: bool = True


@dataclass(frozen=True)
class PageResult:
    """One processed page. `corners` are in the source photo's pixels: top-left,
    top-right, bottom-right, bottom-left; `found` False means no page outline was seen
    and the whole photo was used."""

    corners: tuple[tuple[float, float], ...]
    found: bool
    size: tuple[int, int]  # (width, height) of the page image
    deskew_deg: float
    image: Any = field(repr=False, compare=False)  # numpy uint8, BGR or grey

    def jpeg(self, quality: int = 85) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise CaptureError("doccam.encode_failed", "JPEG")
        return bytes(buf.tobytes())

    def png(self) -> bytes:
        ok, buf = cv2.imencode(".png", self.image)
        if not ok:
            raise CaptureError("doccam.encode_failed", "PNG")
        return bytes(buf.tobytes())

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "corners": [[round(x, 1), round(y, 1)]
                                                  for x, y in self.corners],
                "size": list(self.size), "deskew_deg": round(self.deskew_deg, 2)}


# -- page outline --------------------------------------------------------------------------
def order_corners(pts: Any) -> Any:
    """Four points as top-left, top-right, bottom-right, bottom-left (float32 4x2)."""
    p = np.asarray(pts, np.float32).reshape(4, 2)
    c = p.mean(axis=0)
    ang = np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0])
    p = p[np.argsort(ang)]  # clockwise in image coordinates (y down), starting anywhere
    start = int(np.argmin(p[:, 0] + p[:, 1]))  # top-left: smallest x + y
    return np.roll(p, -start, axis=0)


def _masks(small: Any) -> list[Any]:
    """Binary maps in which the page tends to be one bright blob or one closed outline."""
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    k = max(3, (min(grey.shape) // 60) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, kernel)  # print gone, paper stays
    blur = cv2.GaussianBlur(closed, (5, 5), 0)
    med = float(np.median(blur))
    thin = cv2.Canny(blur, max(10.0, 0.4 * med), max(30.0, 1.0 * med))
    edges = cv2.dilate(thin, np.ones((3, 3), np.uint8))
    _, otsu = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hsv = cv2.cvtColor(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), cv2.COLOR_BGR2HSV)
    # Paper: bright and grey. Local brightness (over a wide neighbourhood) rather than
    # absolute, so the shadowed half of a page still counts as paper.
    v = hsv[:, :, 2].astype(np.float32)
    local = cv2.blur(v, (grey.shape[1] // 3 | 1, grey.shape[0] // 3 | 1))
    paper = (v - 0.6 * hsv[:, :, 1].astype(np.float32) - 0.5 * local)
    lo, hi = float(paper.min()), float(paper.max())
    paper = ((paper - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)
    _, white = cv2.threshold(paper, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    open_k = np.ones((5, 5), np.uint8)
    return [edges, cv2.morphologyEx(otsu, cv2.MORPH_OPEN, open_k),
            cv2.morphologyEx(white, cv2.MORPH_OPEN, open_k), thin]


def _quad_of(contour: Any) -> Any | None:
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
        if len(approx) < 4:
            return None
    return None


def _support(grad: tuple[Any, Any], quad: Any) -> float:
    """The smallest share of any side of `quad` along which the brightness steps across
    the side (0..1): a real page edge, even where a shadow weakens it."""
    gx, gy = grad
    h, w = gx.shape
    t = np.linspace(0.05, 0.95, 48, dtype=np.float32)[:, None]
    worst = 1.0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        n = np.array([-d[1], d[0]], np.float32) / (float(np.linalg.norm(d)) + 1e-6)
        best = np.zeros(len(t), np.float32)
        for off in (-2.0, -1.0, 0.0, 1.0, 2.0):
            pts = np.rint(a + t * d + off * n).astype(int)
            pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
            pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
            across = np.abs(gx[pts[:, 1], pts[:, 0]] * n[0] + gy[pts[:, 1], pts[:, 0]] * n[1])
            best = np.maximum(best, across)
        worst = min(worst, float((best > 12.0).mean()))
    return worst


def _line_quads(edges: Any) -> list[Any]:
    """Quads from the long straight edges: a page beside another sheet is one blob in
    every mask, but its four sides are still four lines."""
    h, w = edges.shape
    segs = cv2.HoughLinesP(edges, 1, np.pi / 360, 60, minLineLength=0.12 * min(h, w),
                           maxLineGap=8)
    if segs is None:
        return []
    lines: list[list[float]] = []  # theta, rho, length
    for x1, y1, x2, y2 in segs.reshape(-1, 4).astype(np.float64):
        theta = math.atan2(x2 - x1, -(y2 - y1)) % math.pi  # normal direction
        rho = x1 * math.cos(theta) + y1 * math.sin(theta)
        length = math.hypot(x2 - x1, y2 - y1)
        for ln in lines:
            dt = abs(ln[0] - theta)
            if min(dt, math.pi - dt) < 0.05 and abs(ln[1] - (rho if dt < 1 else -rho)) < 6:
                ln[2] += length
                break
        else:
            lines.append([theta, rho, length])
    lines = sorted(lines, key=lambda ln: -ln[2])[:10]
    pairs = []
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            dt = abs(lines[i][0] - lines[j][0])
            if min(dt, math.pi - dt) < 0.45:
                pairs.append((lines[i], lines[j]))
    quads = []
    for p1 in pairs:
        for p2 in pairs:
            dt = abs(p1[0][0] - p2[0][0]) % math.pi
            if min(dt, math.pi - dt) < 1.0:
                continue
            pts = [_cross(p1[0], p2[0]), _cross(p1[0], p2[1]), _cross(p1[1], p2[1]),
                   _cross(p1[1], p2[0])]
            if any(p is None for p in pts):
                continue
            quad = np.array(pts, np.float32)
            if (quad[:, 0].min() < -0.02 * w or quad[:, 0].max() > 1.02 * w
                    or quad[:, 1].min() < -0.02 * h or quad[:, 1].max() > 1.02 * h):
                continue
            quads.append(order_corners(quad))
    return quads


def _cross(l1: list[float], l2: list[float]) -> Any | None:
    a = np.array([[math.cos(l1[0]), math.sin(l1[0])], [math.cos(l2[0]), math.sin(l2[0])]])
    if abs(np.linalg.det(a)) < 1e-3:
        return None
    return np.linalg.solve(a, np.array([l1[1], l2[1]]))


def _candidates(small: Any) -> list[tuple[float, Any]]:
    h, w = small.shape[:2]
    area_all = float(h * w)
    masks = _masks(small)
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    edges = (cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 4,
             cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 4)
    out: list[tuple[float, Any]] = []
    for quad in _line_quads(masks[3]):
        q_area = cv2.contourArea(quad)
        if MIN_PAGE_FRACTION * area_all <= q_area <= 0.995 * area_all \
                and cv2.isContourConvex(quad.reshape(-1, 1, 2)):
            out.append((q_area / area_all * _support(edges, quad) ** 2 * _angles_ok(quad),
                        quad))
    blobs = masks[:3]
    for mask in blobs:
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for c in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
            hull_area = cv2.contourArea(cv2.convexHull(c))
            if hull_area < MIN_PAGE_FRACTION * area_all:
                break
            quad = _quad_of(c)
            if quad is None or not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
                continue
            q_area = cv2.contourArea(quad)
            if q_area < MIN_PAGE_FRACTION * area_all or q_area > 0.995 * area_all:
                continue
            # the blob itself against its quad: two sheets side by side have a convex
            # hull that looks like one page, but not the area of one
            c_area = cv2.contourArea(c)
            fill = min(c_area, q_area) / max(c_area, q_area)
            out.append((q_area / area_all * fill ** 4 * _support(edges, quad) ** 2
                        * _angles_ok(quad), quad))
    return out


def _angles_ok(quad: Any) -> float:
    """1.0 for a plausible photographed rectangle; less as its corners get far from 90°."""
    worst = 0.0
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = abs(float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9)))
        worst = max(worst, cos)
    return max(0.0, 1.0 - max(0.0, worst - 0.35) * 2.0)  # ~70°..110° costs nothing


def find_page(image: Any) -> Any | None:
    """The page's four corners in `image` pixels (float32 4x2, ordered), or None."""
    h, w = image.shape[:2]
    scale = DETECT_SIDE / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else image
    scale = min(scale, 1.0)
    cands = _candidates(small)
    if not cands:
        return None
    _, quad = max(cands, key=lambda c: c[0])
    coarse = order_corners(quad / scale)
    # twice: the first pass may start several small-image pixels off (a split blob)
    near = refine_corners(image, coarse, search=max(8.0, 8.0 / scale))
    return refine_corners(image, near, search=max(6.0, 2.0 / scale))


# -- corner refinement ---------------------------------------------------------------------
def _side_line(grey: Any, a: Any, b: Any, inside: Any, search: float) -> Any | None:
    """A line (point, direction) through the paper's edge between corners a and b."""
    d = b - a
    length = float(np.linalg.norm(d))
    if length < 8:
        return None
    d = d / length
    n = np.array([-d[1], d[0]], np.float32)
    if float(np.dot(inside - (a + b) / 2, n)) < 0:
        n = -n  # the normal points into the page
    count = int(min(120, max(12, length / 12)))
    ts = np.linspace(0.08, 0.92, count, dtype=np.float32) * length  # corners are noisy
    steps = np.arange(-search, search + 1.0, 1.0, dtype=np.float32)
    base = a[None, :] + ts[:, None] * d[None, :]
    pts = base[:, None, :] + steps[None, :, None] * n[None, None, :]
    prof = cv2.remap(grey, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    grad = prof[:, 2:] - prof[:, :-2]  # along the normal: outside -> inside, rising at paper
    best = np.argmax(grad, axis=1)
    strength = grad[np.arange(count), best]
    keep = strength > max(6.0, float(np.percentile(strength, 30)) * 0.5)
    if keep.sum() < 4:
        return None
    # sub-pixel: a parabola through the peak and its neighbours
    idx = np.clip(best, 1, grad.shape[1] - 2)
    g0, g1, g2 = (grad[np.arange(count), idx - 1], grad[np.arange(count), idx],
                  grad[np.arange(count), idx + 1])
    den = g0 - 2 * g1 + g2
    off = np.where(np.abs(den) > 1e-6, 0.5 * (g0 - g2) / np.where(den == 0, 1, den), 0.0)
    s = steps[idx + 1] + np.clip(off, -1, 1)
    edge = base + s[:, None] * n[None, :]
    line = cv2.fitLine(edge[keep].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01)
    return line.reshape(4)


def _meet(l1: Any, l2: Any) -> Any | None:
    (vx1, vy1, x1, y1), (vx2, vy2, x2, y2) = l1, l2
    den = vx1 * vy2 - vy1 * vx2
    if abs(den) < 1e-6:
        return None
    t = ((x2 - x1) * vy2 - (y2 - y1) * vx2) / den
    return np.array([x1 + t * vx1, y1 + t * vy1], np.float32)


def refine_corners(image: Any, coarse: Any, search: float = 12.0) -> Any:
    """Corners moved onto the paper's edges at full resolution (coarse ones if unsure)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.2)
    centre = coarse.mean(axis=0)
    lines = [_side_line(grey, coarse[i], coarse[(i + 1) % 4], centre, search) for i in range(4)]
    if any(ln is None for ln in lines):
        return coarse
    out = []
    for i in range(4):
        p = _meet(lines[i - 1], lines[i])  # corner i lies on sides i-1 and i
        if p is None or float(np.linalg.norm(p - coarse[i])) > 2.5 * search:
            return coarse
        out.append(p)
    return np.array(out, np.float32)


# -- page image ------------------------------------------------------------------------------
def page_size(corners: Any, max_side: int) -> tuple[int, int]:
    """(width, height) in pixels of the page the corners outline, snapped to A4 when near."""
    tl, tr, br, bl = corners
    w = float(np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h = float(np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    ratio = max(w, h) / max(1.0, min(w, h))
    if abs(ratio - A4_RATIO) < 0.12:  # perspective foreshortening blurs the ratio a little
        ratio = A4_RATIO
    long_side = min(max_side, int(max(w, h) * 1.05))
    short = round(long_side / ratio)
    return (short, long_side) if h >= w else (long_side, short)


def flatten_light(image: Any) -> Any:
    """Divide out the paper's brightness (shadows, fall-off); print darkened."""
    h, w = image.shape[:2]
    f = 400 / max(h, w)
    small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, k)  # print closed over
    paper = cv2.GaussianBlur(paper, (0, 0), 6)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    # a levels curve: paper (within ~10 % of its own level: sensor noise, grain) white,
    # print darker than the camera saw it (thin strokes at desk distance come out grey),
    # colours kept (a red seal stays red)
    ratio = np.clip(image.astype(np.float32) / (0.9 * np.maximum(paper, 1.0)), 0.0, 1.0)
    return (255.0 * ratio ** 2.2).astype(np.uint8)


def skew_angle(image: Any) -> float:
    """The angle (degrees, counter-clockwise positive) of the printed lines, 0 if unsure."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    f = 800 / max(h, w)
    small = cv2.resize(grey, (max(1, round(w * f)), max(1, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    m = max(4, round(0.05 * min(sh, sw)))
    ink = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                25, 15)[m:-m, m:-m]
    if cv2.countNonZero(ink) < 200:
        return 0.0
    ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 1)))
    best, best_score = 0.0, -1.0
    ih, iw = ink.shape
    for a in np.arange(-MAX_DESKEW_DEG, MAX_DESKEW_DEG + 0.01, 0.25):
        rot = cv2.getRotationMatrix2D((iw / 2, ih / 2), float(a), 1.0)
        r = cv2.warpAffine(ink, rot, (iw, ih), flags=cv2.INTER_NEAREST)
        score = float(np.var(r.sum(axis=1, dtype=np.float64)))  # sharp rows: lines level
        if score > best_score:
            best, best_score = float(a), score
    return best


def _rotate(image: Any, deg: float) -> Any:
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    border = (255, 255, 255) if image.ndim == 3 else 255
    return cv2.warpAffine(image, rot, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def process_photo(photo: Any, settings: CaptureSettings = CaptureSettings()) -> PageResult:
    """The clean page image of one photo (numpy BGR)."""
    if photo is None or getattr(photo, "ndim", 0) not in (2, 3) or min(photo.shape[:2]) < 32:
        raise CaptureError("doccam.bad_photo", "not a picture")
    if photo.ndim == 2:
        photo = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)
    h, w = photo.shape[:2]
    corners = find_page(photo)
    found = corners is not None
    if corners is None:
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    pw, ph = page_size(corners, settings.max_side)
    # the edge itself lands a pixel outside: no rim of desk along the page's border
    target = np.array([[-1.5, -1.5], [pw + 0.5, -1.5], [pw + 0.5, ph + 0.5], [-1.5, ph + 0.5]],
                      np.float32)
    m = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    page = cv2.warpPerspective(photo, m, (pw, ph), flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_REPLICATE)
    if settings.flatten:
        page = flatten_light(page)
    angle = skew_angle(page) if settings.deskew else 0.0
    if abs(angle) >= 0.25:
        page = _rotate(page, angle)
    if not settings.colour:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    pts = tuple((float(x), float(y)) for x, y in corners)
    return PageResult(pts, found, (pw, ph), angle, page)


def decode_photo(data: bytes) -> Any:
    """A photo file's bytes (JPEG, PNG, …) as numpy BGR; CaptureError if not a picture."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CaptureError("doccam.bad_photo", "not a picture this build can read")
    return img


# -- PDF -----------------------------------------------------------------------------------
def pages_pdf(pages: Sequence[PageResult], quality: int = 85) -> bytes:
    """One PDF with each page's JPEG on a page of its size (A4 when it is A4-shaped)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    if not pages:
        raise CaptureError("doccam.no_pages")
    buf = io.BytesIO()
    c = Canvas(buf, pageCompression=1)
    c.setTitle("materials")
    c.setCreator("guanjia kiosk")
    for p in pages:
        w, h = p.size
        ratio = max(w, h) / min(w, h)
        if abs(ratio - A4_RATIO) < 0.01:
            size = A4 if h >= w else (A4[1], A4[0])
        else:
            size = (w * 72.0 / PAGE_DPI, h * 72.0 / PAGE_DPI)
        c.setPageSize(size)
        c.drawImage(ImageReader(io.BytesIO(p.jpeg(quality))), 0, 0, size[0], size[1])
        c.showPage()
    c.save()
    return buf.getvalue()
