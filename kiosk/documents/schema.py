"""Validate document templates (A4 and receipt) when a flow package loads.

Errors name the file, the path inside it and the problem (`TemplateSchemaError`; the flow
loader turns it into a DefinitionError), so ops see
`templates/x.toml: blocks[3].columns[1].value: unknown filter 'monye'` before a citizen
meets the template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kiosk.documents.textfmt import FILTERS, placeholders


class TemplateSchemaError(ValueError):
    """A template is invalid: names the file, the path inside it and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        super().__init__(f"{file}: {path}: {problem}")
        self.file, self.path, self.problem = file, path, problem


_TEXT_FILTERS = set(FILTERS) | {"name"}

# block type -> (required keys, optional keys)
A4_BLOCKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "title": (("text",), ()),
    "subtitle": (("text",), ()),
    "paragraph": (("text",), ("align",)),
    "fields": (("fields",), ("columns",)),
    "table": (("rows", "columns"), ("totals", "empty")),
    "issuer": (("office",), ("date", "seal", "qr", "qr_caption")),
    "qr": (("value",), ("caption", "size_mm")),
    "spacer": ((), ("mm",)),
    "signature": (("field",), ("label", "width_mm", "height_mm")),
}
A4_PAGE = {"margins_mm", "header", "footer", "watermark"}
RECEIPT_LINES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text": (("text",), ("align", "bold", "big", "double_width", "double_height")),
    "kv": (("label", "value"), ()),
    "pair": (("left", "right"), ("bold",)),
    "rows": (("rows", "text"), ()),
    "rule": ((), ("char",)),
    "feed": ((), ("lines",)),
    "qr": (("value",), ("size",)),
    "cut": ((), ("partial",)),
}


class _Check:
    def __init__(self, file: str, asset_exists: Callable[[str], bool] | None) -> None:
        self.file = file
        self.asset_exists = asset_exists

    def fail(self, path: str, problem: str) -> TemplateSchemaError:
        return TemplateSchemaError(self.file, path, problem)

    def text(self, value: Any, path: str, *, required: bool = True) -> None:
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, not {type(value).__name__}")
        if required and not value.strip():
            raise self.fail(path, "must not be empty")
        if value.count("{") != value.count("}"):
            raise self.fail(path, "unbalanced { } in placeholder")
        for _, flt in placeholders(value):
            if flt is not None and flt not in _TEXT_FILTERS:
                raise self.fail(path, f"unknown filter {flt!r} (known: "
                                      f"{', '.join(sorted(_TEXT_FILTERS))})")

    def number(self, value: Any, path: str, lo: float, hi: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not lo <= value <= hi:
            raise self.fail(path, f"must be a number from {lo:g} to {hi:g}")

    def keys(self, item: Mapping[str, Any], path: str, required: tuple[str, ...],
             optional: tuple[str, ...]) -> None:
        for k in required:
            if k not in item:
                raise self.fail(f"{path}.{k}", "is required")
        for k in item:
            if k not in required and k not in optional and k != "type":
                raise self.fail(f"{path}.{k}", "unknown key")

    def table(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be a table")
        return value

    def list(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a non-empty list")
        return value


def validate_template(tpl: Mapping[str, Any], file: str,
                      asset_exists: Callable[[str], bool] | None = None) -> None:
    """Raise TemplateSchemaError(file, path, problem) for the first problem found."""
    c = _Check(file, asset_exists)
    kind = tpl.get("kind")
    if kind == "a4":
        _a4(c, tpl)
    elif kind == "receipt":
        _receipt(c, tpl)
    else:
        raise c.fail("kind", f"must be 'a4' or 'receipt', not {kind!r}")


def _a4(c: _Check, tpl: Mapping[str, Any]) -> None:
    if "title" in tpl:
        c.text(tpl["title"], "title")
    page = c.table(tpl.get("page", {}), "page")
    for k in page:
        if k not in A4_PAGE:
            raise c.fail(f"page.{k}", "unknown key")
    if "margins_mm" in page:
        m = page["margins_mm"]
        if not isinstance(m, list) or len(m) != 4:
            raise c.fail("page.margins_mm", "must be [top, right, bottom, left]")
        for i, v in enumerate(m):
            c.number(v, f"page.margins_mm[{i}]", 5, 60)
    for k in ("header", "footer", "watermark"):
        if k in page:
            c.text(page[k], f"page.{k}", required=False)
    for i, block in enumerate(c.list(tpl.get("blocks"), "blocks")):
        _a4_block(c, c.table(block, f"blocks[{i}]"), f"blocks[{i}]")


def _a4_block(c: _Check, b: Mapping[str, Any], path: str) -> None:
    kind = b.get("type")
    if kind not in A4_BLOCKS:
        raise c.fail(f"{path}.type", f"unknown block type {kind!r} (known: "
                                     f"{', '.join(A4_BLOCKS)})")
    c.keys(b, path, *A4_BLOCKS[kind])
    for k in ("text", "office", "date", "qr", "qr_caption", "value", "caption", "empty"):
        if k in b:
            c.text(b[k], f"{path}.{k}", required=k in ("text", "office", "value"))
    if kind == "fields":
        if "columns" in b and b["columns"] not in (1, 2, 3):
            raise c.fail(f"{path}.columns", "must be 1, 2 or 3")
        for j, f in enumerate(c.list(b["fields"], f"{path}.fields")):
            fp = f"{path}.fields[{j}]"
            f = c.table(f, fp)
            c.keys(f, fp, ("label", "value"), ())
            c.text(f["label"], f"{fp}.label")
            c.text(f["value"], f"{fp}.value", required=False)
    elif kind == "table":
        if not isinstance(b["rows"], str) or not b["rows"]:
            raise c.fail(f"{path}.rows", "must name the data list, e.g. 'record.months'")
        cols = c.list(b["columns"], f"{path}.columns")
        for j, col in enumerate(cols):
            cp = f"{path}.columns[{j}]"
            col = c.table(col, cp)
            c.keys(col, cp, ("title", "value"), ("width", "align"))
            c.text(col["title"], f"{cp}.title")
            c.text(col["value"], f"{cp}.value", required=False)
            if "width" in col:
                c.number(col["width"], f"{cp}.width", 0.1, 20)
            if col.get("align", "left") not in ("left", "center", "right"):
                raise c.fail(f"{cp}.align", "must be left, center or right")
        if "totals" in b:
            totals = c.list(b["totals"], f"{path}.totals")
            if len(totals) != len(cols):
                raise c.fail(f"{path}.totals", f"has {len(totals)} cells for {len(cols)} "
                                               f"columns")
            for j, cell in enumerate(totals):
                c.text(cell, f"{path}.totals[{j}]", required=False)
    elif kind == "issuer" and "seal" in b:
        if not isinstance(b["seal"], str) or (c.asset_exists and not c.asset_exists(b["seal"])):
            raise c.fail(f"{path}.seal", f"asset {b['seal']!r} missing from the package")
    elif kind == "qr" and "size_mm" in b:
        c.number(b["size_mm"], f"{path}.size_mm", 12, 60)
    elif kind == "signature":
        if not isinstance(b["field"], str) or not b["field"]:
            raise c.fail(f"{path}.field", "must name the signature's data, e.g. 'signature'")
        if "label" in b:
            c.text(b["label"], f"{path}.label", required=False)
        for k, lo, hi in (("width_mm", 20, 170), ("height_mm", 10, 80)):
            if k in b:
                c.number(b[k], f"{path}.{k}", lo, hi)
    elif kind == "spacer" and "mm" in b:
        c.number(b["mm"], f"{path}.mm", 0, 100)


def _receipt(c: _Check, tpl: Mapping[str, Any]) -> None:
    for i, line in enumerate(c.list(tpl.get("lines"), "lines")):
        path = f"lines[{i}]"
        line = c.table(line, path)
        kind = line.get("type", "text")
        if kind not in RECEIPT_LINES:
            raise c.fail(f"{path}.type", f"unknown line type {kind!r} (known: "
                                         f"{', '.join(RECEIPT_LINES)})")
        c.keys(line, path, *RECEIPT_LINES[kind])
        for k in ("text", "label", "value", "left", "right"):
            if k in line:
                c.text(line[k], f"{path}.{k}", required=k != "right")
        if line.get("align", "left") not in ("left", "center", "right"):
            raise c.fail(f"{path}.align", "must be left, center or right")
        if kind == "qr" and "size" in line:
            c.number(line["size"], f"{path}.size", 1, 16)
        if kind == "feed" and "lines" in line:
            c.number(line["lines"], f"{path}.lines", 0, 20)
        if kind == "rule" and "char" in line and (not isinstance(line["char"], str)
                                                  or len(line["char"]) != 1):
            raise c.fail(f"{path}.char", "must be one character")
