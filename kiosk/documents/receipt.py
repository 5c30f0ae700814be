"""Render a receipt template (data) into a device-neutral `Receipt`.

Line types: `text` (align, bold, big / double_width / double_height), `kv`
(label：value, the value wrapped under itself), `pair` (left text, right text on
the same line), `rows` (one text line per item of a data list), `rule`, `feed`,
`qr`, `cut`. Layout uses the printer's column count (48 on 80 mm, 32 on 58 mm).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.devices.receipt.escpos_protocol import display_width, wrap_text
from kiosk.devices.receipt.model import (
    Align,
    Cut,
    Feed,
    QrCode,
    Receipt,
    ReceiptItem,
    Rule,
    TextLine,
)
from kiosk.documents.textfmt import TemplateError, lookup, render


def _kv(label: str, value: str, columns: int) -> list[TextLine]:
    head = f"{label}："
    indent = display_width(head)
    if indent > columns // 2:  # a long label: value on the lines below
        return [TextLine(head), *(TextLine(x) for x in wrap_text(value, columns))]
    parts = wrap_text(value, columns - indent) or [""]
    return [TextLine(head + parts[0])] + [TextLine(" " * indent + p) for p in parts[1:]]


def _pair(left: str, right: str, columns: int, bold: bool) -> list[TextLine]:
    gap = columns - display_width(left) - display_width(right)
    if gap >= 1:
        return [TextLine(left + " " * gap + right, bold=bold)]
    return [TextLine(left, bold=bold), TextLine(right, Align.RIGHT, bold)]


def render_receipt(template: Mapping[str, Any], data: Mapping[str, Any],
                   columns: int = 48) -> Receipt:
    """Receipts leave the terminal with the citizen but may be dropped in the hall,
    so the `name` filter always masks here."""
    items: list[ReceiptItem] = []

    def r(text: str, ctx: Mapping[str, Any] = data) -> str:
        return render(text, ctx, masked=True)

    for line in template.get("lines", []):
        kind = line.get("type", "text")
        if kind == "text":
            big = bool(line.get("big"))
            items.append(TextLine(r(line["text"]), Align(line.get("align", "left")),
                                  bool(line.get("bold")),
                                  big or bool(line.get("double_width")),
                                  big or bool(line.get("double_height"))))
        elif kind == "kv":
            items.extend(_kv(line["label"], r(line["value"]), columns))
        elif kind == "pair":
            items.extend(_pair(r(line["left"]), r(line["right"]), columns,
                               bool(line.get("bold"))))
        elif kind == "rows":
            rows = lookup(data, line["rows"])
            if not isinstance(rows, list):
                raise TemplateError(f"receipt rows {line['rows']!r} is not a list")
            for row in rows:
                ctx = dict(data)
                ctx.update(row if isinstance(row, Mapping) else {"value": row})
                items.append(TextLine(r(line["text"], ctx)))
        elif kind == "rule":
            items.append(Rule(line.get("char", "-")))
        elif kind == "feed":
            items.append(Feed(int(line.get("lines", 1))))
        elif kind == "qr":
            items.append(QrCode(r(line["value"]), int(line.get("size", 6))))
        elif kind == "cut":
            items.append(Cut(bool(line.get("partial"))))
        else:
            raise TemplateError(f"unknown receipt line type {kind!r}")
    if not items or not isinstance(items[-1], Cut):
        items.append(Cut())
    return Receipt(tuple(items))
