"""Render a receipt template (data) into a device-neutral `Receipt`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.devices.receipt.model import Align, Cut, Feed, QrCode, Receipt, ReceiptItem, Rule, TextLine
from kiosk.documents.textfmt import TemplateError, lookup, render


def render_receipt(template: Mapping[str, Any], data: Mapping[str, Any]) -> Receipt:
    """Lines: text (align/bold/size), rule, feed, qr, kv (label: value), rows, cut.

    Receipts leave the terminal with the citizen but may be dropped in the hall, so
    the `name` filter always masks here.
    """
    items: list[ReceiptItem] = []
    for line in template.get("lines", []):
        kind = line.get("type", "text")
        if kind == "text":
            big = bool(line.get("big"))
            items.append(TextLine(render(line["text"], data, masked=True),
                                  Align(line.get("align", "left")), bool(line.get("bold")),
                                  big or bool(line.get("double_width")),
                                  big or bool(line.get("double_height"))))
        elif kind == "kv":
            items.append(TextLine(f"{line['label']}：{render(line['value'], data, masked=True)}"))
        elif kind == "rows":
            rows = lookup(data, line["rows"])
            for row in rows:
                ctx = dict(data)
                ctx.update(row)
                items.append(TextLine(render(line["text"], ctx, masked=True)))
        elif kind == "rule":
            items.append(Rule(line.get("char", "-")))
        elif kind == "feed":
            items.append(Feed(int(line.get("lines", 1))))
        elif kind == "qr":
            items.append(QrCode(render(line["value"], data, masked=True), int(line.get("size", 6))))
        elif kind == "cut":
            items.append(Cut(bool(line.get("partial"))))
        else:
            raise TemplateError(f"unknown receipt line type {kind!r}")
    if not items or not isinstance(items[-1], Cut):
        items.append(Cut())
    return Receipt(tuple(items))
