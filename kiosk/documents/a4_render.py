"""Render an A4 document template (data) with reportlab (through `kiosk.documents.a4`).

Block types: title, subtitle, paragraph, fields (key/value grid), table (breaks
across pages with a repeated header, optional totals row), issuer (office name and
date with the seal image placed over them), qr (verification code), signature (a
handwritten signature from a `signature` step, as vector paths in a box), spacer.
Page furniture: header, footer with "page N of M", diagonal watermark.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.paragraph import cleanBlockQuotedText
from reportlab.platypus.paraparser import ParaParser

from kiosk.documents.fonts import register_cjk_font
from kiosk.documents.pdfimage import draw_encoded, encoded_image
from kiosk.documents.qr import QrFlowable, draw_qr, encode_qr
from kiosk.documents.textfmt import TemplateError, lookup, render
from kiosk.documents.types import AssetResolver, RenderedPdf


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=16,
                          wordWrap="CJK", alignment=TA_LEFT)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=28,
                                alignment=TA_CENTER, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=12, leading=18,
                                   alignment=TA_CENTER, textColor=colors.HexColor("#333333"),
                                   spaceAfter=8),
        "label": ParagraphStyle("label", parent=base, textColor=colors.HexColor("#444444")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=11),
        "cellc": ParagraphStyle("cellc", parent=base, fontSize=9, leading=11,
                                alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12,
                                alignment=TA_CENTER),
    }


class _Plain:
    """Paragraphs of plain text without reportlab's markup parser (an HTMLParser per
    paragraph; ~130 per certificate, a tenth of a render): each gets a copy of the
    fragment the parser makes for its style, holding its text. One per render."""

    def __init__(self) -> None:
        self._protos: dict[int, tuple[ParagraphStyle, Any]] = {}

    def __call__(self, text: str, style: ParagraphStyle) -> Paragraph:
        got = self._protos.get(id(style))
        if got is None:
            _, frags, _ = ParaParser().parse("x", style)
            got = self._protos[id(style)] = (style, frags[0])  # the style kept alive
        cleaned = cleanBlockQuotedText(text)
        frag = got[1].clone(text=cleaned, link=[], us_lines=[])
        return Paragraph(cleaned, style, frags=[frag])


class _IssuerWithSeal(Flowable):
    """Issuing office name and date, right-aligned, with the seal stamped over them;
    optionally a verification QR code with its caption on the left."""

    def __init__(self, office: str, date_text: str, seal: Path | None, font: str,
                 qr: str = "", qr_caption: str = "") -> None:
        super().__init__()
        self.office, self.date_text, self.seal, self.font = office, date_text, seal, font
        self.qr, self.qr_caption = qr, qr_caption
        self.height = 40 * mm

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self.width = avail_w
        return avail_w, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFont(self.font, 12)
        right = self.width - 8 * mm
        y_office = self.height / 2 + 2 * mm
        c.drawRightString(right, y_office, self.office)
        c.drawRightString(right, y_office - 8 * mm, self.date_text)
        if self.seal is not None:
            size = 38 * mm
            text_w = c.stringWidth(self.office, self.font, 12)
            cx = right - text_w / 2
            # encoded once per seal file, not per document (see pdfimage.py)
            draw_encoded(c, encoded_image(self.seal), cx - size / 2,
                         y_office - size / 2 - 2 * mm, size, size)
        if self.qr:
            draw_qr(c, encode_qr(self.qr), 0, (self.height - 26 * mm) / 2 + 3 * mm, 26 * mm)
            c.setFont(self.font, 8.5)
            for k, line in enumerate(self.qr_caption.split("\n")):
                c.drawString(0, (self.height - 26 * mm) / 2 - k * 4 * mm, line)


class _SignatureBox(Flowable):
    """A handwritten signature (strokes in 0..1 of the pad it was drawn on) as vector
    paths in a box, with its label on the left: quadratic smoothing through the
    midpoints, as on the pad, drawn with cubic curves (reportlab has no quadTo)."""

    INK = colors.HexColor("#10204A")

    def __init__(self, label: str, signature: Any, font: str, width_mm: float,
                 height_mm: float) -> None:
        super().__init__()
        if not isinstance(signature, Mapping) or not isinstance(signature.get("strokes"), list):
            raise TemplateError("a signature block needs strokes (from a `signature` step)")
        self.label, self.font = label, font
        self.strokes = [[(float(p[0]), float(p[1])) for p in s] for s in signature["strokes"]]
        self.aspect = float(signature.get("aspect", 3.0)) or 3.0
        self.box_w, self.height = width_mm * mm, height_mm * mm

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self.width = avail_w
        return avail_w, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFont(self.font, 11)
        label_w = c.stringWidth(self.label, self.font, 11) + 4 * mm if self.label else 0
        x0 = self.width - self.box_w - 8 * mm
        c.drawString(max(0.0, x0 - label_w), self.height / 2 - 4, self.label)
        c.setStrokeColor(colors.HexColor("#BBBBBB"))
        c.setLineWidth(0.5)
        c.rect(x0, 0, self.box_w, self.height)
        # The pad's shape kept: the strokes fill the box's height or width, centred.
        pad_w = min(self.box_w, self.height * self.aspect)
        pad_h = pad_w / self.aspect
        ox, oy = x0 + (self.box_w - pad_w) / 2, (self.height - pad_h) / 2
        c.setStrokeColor(self.INK)
        c.setLineWidth(1.3)
        c.setLineCap(1)
        c.setLineJoin(1)
        path = c.beginPath()
        for s in self.strokes:
            pts = [(ox + x * pad_w, oy + (1 - y) * pad_h) for x, y in s]
            path.moveTo(*pts[0])
            if len(pts) == 1:
                path.lineTo(pts[0][0] + 0.3, pts[0][1])
            cur = pts[0]
            for a, b in pairwise(pts[1:]):
                end = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                # quadratic (cur, a, end) as a cubic: controls 2/3 of the way to `a`
                path.curveTo(cur[0] + 2 / 3 * (a[0] - cur[0]), cur[1] + 2 / 3 * (a[1] - cur[1]),
                             end[0] + 2 / 3 * (a[0] - end[0]), end[1] + 2 / 3 * (a[1] - end[1]),
                             *end)
                cur = end
            if len(pts) > 1:
                path.lineTo(*pts[-1])
        c.drawPath(path, stroke=1, fill=0)


def _make_canvas_class(page_cfg: Mapping[str, Any], data: Mapping[str, Any], font: str,
                       masked: bool) -> type[rl_canvas.Canvas]:
    header = page_cfg.get("header", "")
    footer = page_cfg.get("footer", "第 {page} 页 / 共 {pages} 页")
    watermark = page_cfg.get("watermark", "")

    class NumberedCanvas(rl_canvas.Canvas):
        """Defers page furniture to save() so the footer can say 'of M'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []
            self.setFont(font, 10)

        def showPage(self) -> None:  # noqa: N802 (reportlab API)
            self._saved.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab private, not in stubs

        def save(self) -> None:
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                self._furniture(self._pageNumber, total)  # type: ignore[attr-defined]  # as above
                super().showPage()
            super().save()

        def _furniture(self, page: int, pages: int) -> None:
            w, h = A4
            ctx = dict(data)
            ctx.update(page=page, pages=pages)
            self.saveState()
            if watermark:
                self.setFont(font, 30)
                self.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.07))
                self.translate(w / 2, h / 2)
                self.rotate(35)
                for dy in (-90 * mm, 0, 90 * mm):
                    self.drawCentredString(0, dy, render(watermark, ctx, masked=masked))
                self.rotate(-35)
                self.translate(-w / 2, -h / 2)
            self.setFillColor(colors.HexColor("#555555"))
            self.setFont(font, 8.5)
            if header:
                self.drawString(18 * mm, h - 12 * mm, render(header, ctx, masked=masked))
                self.setStrokeColor(colors.HexColor("#BBBBBB"))
                self.line(18 * mm, h - 14 * mm, w - 18 * mm, h - 14 * mm)
            if footer:
                self.drawCentredString(w / 2, 10 * mm, render(footer, ctx, masked=masked))
            self.restoreState()

    return NumberedCanvas


def _table(block: Mapping[str, Any], data: Mapping[str, Any], st: dict[str, ParagraphStyle],
           width: float, masked: bool, para: _Plain) -> Table:
    rows = lookup(data, block["rows"])
    if not isinstance(rows, list):
        raise TemplateError(f"table rows {block['rows']!r} is not a list")
    cols = block["columns"]
    header = [para(c["title"], st["cellc"]) for c in cols]
    body: list[list[Any]] = [header]
    for row in rows:
        ctx = dict(data)
        ctx.update(row if isinstance(row, Mapping) else {"value": row})
        body.append([para(render(c["value"], ctx, masked=masked),
                          st["cellc"] if c.get("align") == "center" else st["cell"])
                     for c in cols])
    if "totals" in block:
        body.append([para(render(t, data, masked=masked), st["cell"])
                     for t in block["totals"]])
    weights = [float(c.get("width", 1)) for c in cols]
    col_widths = [width * w / sum(weights) for w in weights]
    t = Table(body, colWidths=col_widths, repeatRows=1)
    style: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#666666")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if "totals" in block:
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#F4F4F4")))
    t.setStyle(TableStyle(style))
    return t


def render_pdf(template: Mapping[str, Any], data: Mapping[str, Any],
               assets: AssetResolver, *, masked: bool = False) -> RenderedPdf:
    """Render a template with data to PDF bytes. `masked` is for on-screen previews."""
    font = register_cjk_font()
    st = _styles(font)
    para = _Plain()
    page_cfg = template.get("page", {})
    margins = page_cfg.get("margins_mm", [22, 18, 20, 18])  # top, right, bottom, left
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, topMargin=margins[0] * mm, rightMargin=margins[1] * mm,
        bottomMargin=margins[2] * mm, leftMargin=margins[3] * mm,
        title=render(template.get("title", ""), data, masked=True),
        author="莞家政务自助终端", creator="guanjia-kiosk",
    )
    width = doc.width
    story: list[Any] = []
    for block in template.get("blocks", []):
        kind = block.get("type")
        if kind in ("title", "subtitle", "paragraph"):
            style = st["base" if kind == "paragraph" else kind]
            if kind == "paragraph" and block.get("align") in ("center", "right"):
                style = ParagraphStyle(f"p-{block['align']}", parent=style,
                                       alignment=TA_CENTER if block["align"] == "center"
                                       else TA_RIGHT)
            story.append(para(render(block["text"], data, masked=masked), style))
            if kind == "paragraph":
                story.append(Spacer(1, 2 * mm))
        elif kind == "fields":
            ncol = int(block.get("columns", 2))
            cells: list[Any] = []
            for f in block["fields"]:
                cells.append(para(f["label"], st["label"]))
                cells.append(para(render(f["value"], data, masked=masked), st["base"]))
            per_row = ncol * 2
            rows = [cells[i:i + per_row] for i in range(0, len(cells), per_row)]
            if rows and len(rows[-1]) < per_row:
                rows[-1] += [""] * (per_row - len(rows[-1]))
            lw, vw = 0.32, 0.68
            widths = [width / ncol * (lw if j % 2 == 0 else vw) for j in range(per_row)]
            t = Table(rows, colWidths=widths)
            t.setStyle(TableStyle([
                ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#666666")),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#AAAAAA")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                *[("BACKGROUND", (j, 0), (j, -1), colors.HexColor("#F2F5F9"))
                  for j in range(0, per_row, 2)],
            ]))
            story.extend([t, Spacer(1, 4 * mm)])
        elif kind == "table":
            rows = lookup(data, block["rows"])
            if not rows and block.get("empty"):
                story.append(para(render(block["empty"], data, masked=masked), st["base"]))
            else:
                story.append(_table(block, data, st, width, masked, para))
            story.append(Spacer(1, 4 * mm))
        elif kind == "issuer":
            seal = assets(block["seal"]) if block.get("seal") else None
            story.append(_IssuerWithSeal(render(block["office"], data, masked=masked),
                                         render(block.get("date", ""), data, masked=masked),
                                         seal, font,
                                         render(block.get("qr", ""), data, masked=masked),
                                         render(block.get("qr_caption", ""), data,
                                                masked=masked)))
        elif kind == "qr":
            value = render(block["value"], data, masked=masked)
            caption = render(block.get("caption", ""), data, masked=masked)
            t = Table([[QrFlowable(value, float(block.get("size_mm", 26))),
                        para(caption, st["base"])]],
                      colWidths=[32 * mm, width - 32 * mm])
            t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
            story.append(t)
        elif kind == "signature":
            story.append(_SignatureBox(render(block.get("label", ""), data, masked=masked),
                                       lookup(data, block["field"]), font,
                                       float(block.get("width_mm", 70)),
                                       float(block.get("height_mm", 25))))
        elif kind == "spacer":
            story.append(Spacer(1, float(block.get("mm", 5)) * mm))
        else:
            raise TemplateError(f"unknown block type {kind!r}")
    canvas_cls = _make_canvas_class(page_cfg, data, font, masked)
    doc.build(story, canvasmaker=canvas_cls)
    pdf = buf.getvalue()
    return RenderedPdf(pdf, doc.page)
