"""The preview can be read: pages turned, zoomed in (sharper, not just larger), and its
words say truthfully what the printout shows."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget
from reportlab.pdfgen import canvas

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.citizen import tap
from kiosk.ui.document_view import DocumentView


def two_pages() -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out)
    for n in (1, 2):
        c.drawString(100, 700, f"page {n}")
        c.showPage()
    c.save()
    return out.getvalue()


def view(qtbot, pdf: bytes) -> DocumentView:  # type: ignore[no-untyped-def]
    m = theme.metrics_for(1920, 1080, elder=True)
    root = QWidget()
    root.setStyleSheet(theme.stylesheet(m))
    doc = DocumentView(pdf, m, lambda: Translator("zh_CN"))
    QVBoxLayout(root).addWidget(doc)
    qtbot.addWidget(root)
    root.resize(900, 700)
    root.show()
    doc._root = root  # type: ignore[attr-defined]
    return doc


def test_pages_turn_and_zoom_renders_sharper(qtbot) -> None:  # type: ignore[no-untyped-def]
    doc = view(qtbot, two_pages())
    qtbot.waitUntil(lambda: doc.pages == 2, timeout=10000)
    # drawn at the size shown (no upscaled blur), once the layout has settled
    qtbot.waitUntil(lambda: doc.image.pix.width() == doc.image.width(), timeout=10000)
    assert doc.page_label.text() == "第 1 页 / 共 2 页" and doc.next.isVisible()
    small = doc.image.width(), doc.image.pix.width()
    tap(doc.zoom_in)
    tap(doc.zoom_in)
    qtbot.waitUntil(lambda: doc.image.pix.width() == doc.image.width(), timeout=10000)
    assert doc.image.width() >= 2 * small[0]
    tap(doc.next)
    assert doc.page == 1 and doc.page_label.text() == "第 2 页 / 共 2 页"
    assert not doc.next.isEnabled() and doc.prev.isEnabled()


def test_the_preview_says_what_the_printout_shows(business_runtime, drive, tmp_path: Path
                                                  ) -> None:  # type: ignore[no-untyped-def]
    """The review read '打印件为完整内容' above a print that masks the ID number."""
    rt = business_runtime()
    visit = drive(rt, "ss_certificate")
    assert visit.ok, visit.names
    (screen, _), = visit.shown("preview.preview")
    assert "完整" not in screen.hint
    (_title, pdf), = rt.devices["a4"].jobs
    path = tmp_path / "printed.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    masked_id = re.search(r"\d{4}\*{10}\d{4}", text)
    assert masked_id, text[:400]
    assert "证件号码中间部分隐去" in screen.hint  # true: the print masks the number
    assert "陈晓梅" in text and "显示您的姓名" in screen.hint  # true: it shows the name
