"""A document the citizen can read before it prints: page through it, zoom in, drag to pan.

The screen holds the masked PDF and draws each page at the size it needs: pages are
rendered by pdfium on a worker thread (never on the UI thread) at the current zoom and
kept for this screen only. At zoom 1 a whole page fits the room the screen gives it; at
higher zooms it fills the width and can be dragged (touch) or scrolled. Nothing here is
saved: the pictures are dropped with the screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import button, label
from kiosk.ui.workers import Relay, emit

ZOOMS = (1.0, 1.5, 2.0, 3.0)
A4_RATIO = 297 / 210


class PageImage(QWidget):
    """One page, drawn at the size it is given (its aspect ratio kept by the viewer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewImage")
        self.pix = QImage()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.fillRect(self.rect(), Qt.GlobalColor.gray)
        if self.pix.isNull():
            p.fillRect(self.rect().adjusted(1, 1, -1, -1), Qt.GlobalColor.white)
        else:
            p.drawImage(QRectF(1, 1, self.width() - 2, self.height() - 2), self.pix,
                        QRectF(self.pix.rect()))
        p.end()


class DocumentView(QWidget):
    """Pages of a PDF with zoom and page buttons under them."""

    def __init__(self, pdf: bytes, m: theme.Metrics, t: Callable[[], Translator],
                 page: int = 0, zoom: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentView")
        self.m, self._t, self.pdf = m, t, pdf
        self.pages = 1
        self.page = max(0, page)
        self.zoom = max(0, min(zoom, len(ZOOMS) - 1))
        self._cache: dict[tuple[int, int], QImage] = {}
        self._wanted: tuple[int, int] | None = None
        self._relay = Relay()
        self._relay.done.connect(self._rendered, Qt.ConnectionType.QueuedConnection)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.space(12))
        self.area = QScrollArea()
        self.area.setObjectName("previewScroll")
        self.area.setProperty("mayScroll", True)
        self.area.setFrameShape(QFrame.Shape.NoFrame)
        self.area.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.area.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        # Touch panels: a finger drags the page (kinetic), as on a phone.
        QScroller.grabGesture(self.area.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.image = PageImage()
        self.area.setWidget(self.image)
        v.addWidget(self.area, 1)
        # Zoom and page buttons under the page, in one row that fits a portrait panel in
        # elder mode: square buttons with a sign, their words for screen readers.
        self.controls = QWidget()
        self.controls.setObjectName("previewControls")
        row = QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(m.space(16))
        tr = t()
        # Full-width signs: as wide as the CJK text around them, centred in a square.
        self.zoom_out = self._sign("－", tr("preview.zoom_out"), "preview-zoom-out")  # noqa: RUF001
        self.zoom_in = self._sign("＋", tr("preview.zoom_in"), "preview-zoom-in")  # noqa: RUF001
        self.prev = self._sign("◀", tr("preview.prev_page"), "preview-prev")
        self.next = self._sign("▶", tr("preview.next_page"), "preview-next")
        self.page_label = label("", "previewPage", wrap=False)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prev.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next.clicked.connect(lambda: self.show_page(self.page + 1))
        self.zoom_out.clicked.connect(lambda: self.set_zoom(self.zoom - 1))
        self.zoom_in.clicked.connect(lambda: self.set_zoom(self.zoom + 1))
        for w in (self.zoom_out, self.zoom_in):
            row.addWidget(w)
        row.addStretch(1)
        for part in (self.prev, self.page_label, self.next):
            row.addWidget(part)
        v.addWidget(self.controls)
        self._count_pages()
        self._refresh()

    def _sign(self, sign: str, words: str, name: str) -> QPushButton:
        b = button(sign, name)
        b.setAccessibleName(words)
        b.setToolTip(words)
        side = theme.target_minimum("button", self.m)[0]
        b.setMinimumSize(side, side)
        b.setStyleSheet("padding: 0;")
        return b

    def _count_pages(self) -> None:
        def count() -> None:
            from kiosk.documents.preview import pdf_page_count

            try:
                emit(self._relay, "count", pdf_page_count(self.pdf))
            except Exception as exc:  # noqa: BLE001 - a broken document: one blank page, logged
                emit(self._relay, "error", exc)
        threading.Thread(target=count, daemon=True, name="preview-count").start()

    def minimumSizeHint(self) -> QSize:
        """Small enough for a 5:4 panel in elder mode (zoom is there to read it)."""
        controls = self.controls.minimumSizeHint()
        return QSize(max(self.m.space(400), controls.width()),
                     self.m.space(160) + controls.height() + self.m.space(12))

    def show_page(self, page: int) -> None:
        self.page = max(0, min(page, self.pages - 1))
        self._refresh()
        self.area.verticalScrollBar().setValue(0)

    def set_zoom(self, zoom: int) -> None:
        self.zoom = max(0, min(zoom, len(ZOOMS) - 1))
        self._refresh()

    def _refresh(self) -> None:
        many = self.pages > 1
        self.prev.setVisible(many)
        self.next.setVisible(many)
        self.page_label.setVisible(many)
        self.prev.setEnabled(self.page > 0)
        self.next.setEnabled(self.page < self.pages - 1)
        self.zoom_out.setEnabled(self.zoom > 0)
        self.zoom_in.setEnabled(self.zoom < len(ZOOMS) - 1)
        self.page_label.setText(self._t()("preview.page", n=self.page + 1, m=self.pages))
        self._fit()

    def _fit(self) -> None:
        """Size the page for the room and the zoom; ask for a picture that sharp."""
        room = self.area.viewport().size()
        if room.width() < 10 or room.height() < 10:
            return
        fit_w = min(room.width(), int(room.height() / A4_RATIO))
        w = max(1, int(fit_w * ZOOMS[self.zoom]))
        h = max(1, round(w * A4_RATIO))
        self.image.setFixedSize(w, h)
        self.area.setWidgetResizable(False)
        key = (self.page, w)
        if key in self._cache:
            self.image.pix = self._cache[key]
            self.image.update()
        elif self._wanted != key:
            self._wanted = key
            QTimer.singleShot(0, lambda k=key: self._render(k))

    def _render(self, key: tuple[int, int]) -> None:
        if self._wanted != key:
            return  # the citizen zoomed or turned the page again meanwhile
        pdf = self.pdf

        def draw() -> None:
            """pdfium's pixels straight into a QImage, here: the UI thread only paints it
            (a PNG decoded there took 8 ms at zoom x1 and 107 ms at x3)."""
            from kiosk.documents.preview import pdf_page_pixels

            try:
                data, w, h, stride = pdf_page_pixels(pdf, key[0], key[1])
                image = QImage(data, w, h, stride, QImage.Format.Format_RGB32).copy()
                emit(self._relay, "page", (key, image))
            except Exception as exc:  # noqa: BLE001 - the page shows the error instead
                emit(self._relay, "error", exc)
        threading.Thread(target=draw, daemon=True, name="preview-page").start()

    def _rendered(self, tag: str, result: object) -> None:
        if tag == "count" and isinstance(result, int):
            self.pages = max(1, result)
            self._refresh()
        elif tag == "page" and isinstance(result, tuple):
            key, pix = result
            self._cache[key] = pix
            if key == (self.page, self.image.width()):
                self.image.pix = pix
                self.image.update()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()
