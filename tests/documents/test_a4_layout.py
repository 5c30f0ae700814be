"""A4 layout language: tables across pages with repeated headers, page N of M, schema errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.benchmarks.documents import TAX_LIST, tax_rows
from kiosk.documents.a4 import render_a4
from kiosk.documents.preview import pdf_page_png
from kiosk.documents.receipt import render_receipt
from kiosk.documents.schema import TemplateSchemaError, validate_template

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


def no_assets(rel: str) -> Path:
    raise FileNotFoundError(rel)


def page_text(pdf: Path, n: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_table_breaks_across_pages_with_the_header_on_each(tmp_path: Path) -> None:
    rows = tax_rows(90)
    doc = render_a4(TAX_LIST, {"name": "陈小明", "id": "4419**********1234", "rows": rows},
                    no_assets)
    assert doc.pages >= 3
    path = tmp_path / "tax.pdf"
    path.write_bytes(doc.pdf)
    per_page = []
    for n in range(1, doc.pages + 1):
        flat = page_text(path, n).replace(" ", "")
        assert "所得项目" in flat and "扣缴义务人" in flat  # repeated header
        assert f"第{n}页/共{doc.pages}页" in flat
        per_page.append(flat.count("工资薪金所得"))
    assert all(per_page) and sum(per_page) == 90  # every row once, none lost at a break
    assert "212.45" in page_text(path, doc.pages)  # the last row (123.45 + 89) on the last page
    assert "中华人民共和国个人所得税纳税记录" in page_text(path, 1).replace(" ", "")
    assert "中华人民共和国个人所得税纳税记录" not in page_text(path, 2).replace(" ", "")


def test_preview_png_of_the_same_template() -> None:
    doc = render_a4(TAX_LIST, {"name": "陈小明", "id": "x", "rows": tax_rows(5)}, no_assets,
                    masked=True)
    png = pdf_page_png(doc.pdf, 0, width_px=600)
    assert png.startswith(b"\x89PNG") and len(png) > 10000


def test_empty_table_text() -> None:
    tpl = {**TAX_LIST, "blocks": [{"type": "table", "rows": "rows", "empty": "无纳税记录",
                                   "columns": TAX_LIST["blocks"][2]["columns"]}]}
    doc = render_a4(tpl, {"rows": []}, no_assets)
    assert b"%PDF" in doc.pdf and doc.pages == 1


@pytest.mark.parametrize("mutate,path,problem", [
    (lambda t: t["blocks"].append({"type": "chart"}), "blocks[3].type", "unknown block type"),
    (lambda t: t["blocks"][2]["columns"][5].update(value="{tax|monye}"),
     "blocks[2].columns[5].value", "unknown filter 'monye'"),
    (lambda t: t["blocks"][2].pop("rows"), "blocks[2].rows", "is required"),
    (lambda t: t["blocks"][1].update(columns=7), "blocks[1].columns", "must be 1, 2 or 3"),
    (lambda t: t["page"].update(margins_mm=[1, 2]), "page.margins_mm", "[top, right"),
    (lambda t: t["blocks"][0].update(txt="x"), "blocks[0].txt", "unknown key"),
    (lambda t: t.update(kind="poster"), "kind", "must be 'a4' or 'receipt'"),
])
def test_schema_errors_name_file_path_and_problem(mutate, path: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    tpl = copy.deepcopy(TAX_LIST)
    validate_template(tpl, "templates/tax.toml")
    mutate(tpl)
    with pytest.raises(TemplateSchemaError) as err:
        validate_template(tpl, "templates/tax.toml")
    assert err.value.file == "templates/tax.toml" and err.value.path == path
    assert problem in err.value.problem


def test_receipt_schema_and_layout() -> None:
    tpl = {"kind": "receipt", "lines": [
        {"type": "kv", "label": "办理事项",
         "value": "打印社会保险参保缴费证明及个人所得税纳税记录（各1份）"},
        {"type": "pair", "left": "合计", "right": "￥12.00", "bold": True},
        {"type": "qr", "value": "{url}", "size": 6}]}
    validate_template(tpl, "templates/r.toml")
    r = render_receipt(tpl, {"url": "http://x"}, columns=32)
    lines = [i.text for i in r.items if hasattr(i, "text")]
    assert lines[0].startswith("办理事项：打印") and lines[1].startswith("          ")
    assert lines[-1] == "合计" + " " * 21 + "￥12.00"  # ￥ is full width: 32 columns
    with pytest.raises(TemplateSchemaError) as err:
        validate_template({"kind": "receipt", "lines": [{"type": "qr", "value": "x", "size": 40}]},
                          "templates/r.toml")
    assert err.value.path == "lines[0].size"
