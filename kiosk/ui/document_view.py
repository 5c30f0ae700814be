"""A document the citizen can read before it prints: page through it, zoom in, drag to pan.

Pages arrive as PNG pictures rendered large enough for the highest zoom; at zoom 1 a
whole page fits the room the screen gives it, at higher zooms it fills the width and
can be dragged (touch) or scrolled. Nothing here is saved: the pictures are dropped with
the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import button, label

ZOOMS = (1.0, 1.5, 2.0, 3.0)


class PageImage(QWidget):
    """One page, drawn at the size it is given (its aspect ratio kept by the viewer)."""

    def __init__(self, pix: QPixmap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewImage")
        self.pix = pix

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.fillRect(self.rect(), Qt.GlobalColor.gray)
        p.drawPixmap(QRectF(1, 1, self.width() - 2, self.height() - 2), self.pix,
                     QRectF(self.pix.rect()))
        p.end()


class DocumentView(QWidget):
    """Pages of a document with zoom and page buttons under them."""

    def __init__(self, pages: Sequence[bytes], m: theme.Metrics, t: Callable[[], Translator],
                 page: int = 0, zoom: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentView")
        self.m, self._t = m, t
        self.pixmaps = []
        for png in pages:
            pix = QPixmap()
            pix.loadFromData(png, "PNG")
            self.pixmaps.append(pix)
        self.page = max(0, min(page, len(self.pixmaps) - 1))
        self.zoom = max(0, min(zoom, len(ZOOMS) - 1))
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
        self.image = PageImage(self.pixmaps[self.page] if self.pixmaps else QPixmap())
        self.area.setWidget(self.image)
        v.addWidget(self.area, 1)
        row = QHBoxLayout()
        row.setSpacing(m.space(16))
        tr = t()
        self.prev = button(tr("preview.prev_page"), "preview-prev")
        self.next = button(tr("preview.next_page"), "preview-next")
        self.page_label = label("", "previewPage", wrap=False)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_out = button(tr("preview.zoom_out"), "preview-zoom-out")
        self.zoom_in = button(tr("preview.zoom_in"), "preview-zoom-in")
        for b in (self.prev, self.next, self.zoom_out, self.zoom_in):
            b.setMinimumWidth(theme.target_minimum("button", m)[0] * 2)
        self.prev.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next.clicked.connect(lambda: self.show_page(self.page + 1))
        self.zoom_out.clicked.connect(lambda: self.set_zoom(self.zoom - 1))
        self.zoom_in.clicked.connect(lambda: self.set_zoom(self.zoom + 1))
        for w in (self.zoom_out, self.zoom_in):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.page_label)
        row.addStretch(1)
        for w in (self.prev, self.next):
            row.addWidget(w)
        v.addLayout(row)
        self._refresh()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self.m.px(400), self.m.px(300))

    def show_page(self, page: int) -> None:
        self.page = max(0, min(page, len(self.pixmaps) - 1))
        self.image.pix = self.pixmaps[self.page]
        self._refresh()
        self.area.verticalScrollBar().setValue(0)

    def set_zoom(self, zoom: int) -> None:
        self.zoom = max(0, min(zoom, len(ZOOMS) - 1))
        self._refresh()

    def _refresh(self) -> None:
        many = len(self.pixmaps) > 1
        self.prev.setVisible(many)
        self.next.setVisible(many)
        self.page_label.setVisible(many)
        self.prev.setEnabled(self.page > 0)
        self.next.setEnabled(self.page < len(self.pixmaps) - 1)
        self.zoom_out.setEnabled(self.zoom > 0)
        self.zoom_in.setEnabled(self.zoom < len(ZOOMS) - 1)
        self.page_label.setText(self._t()("preview.page", n=self.page + 1,
                                          m=len(self.pixmaps)))
        self._fit()

    def _fit(self) -> None:
        pix = self.image.pix
        if pix.isNull():
            return
        room = self.area.viewport().size()
        fit = pix.size().scaled(room, Qt.AspectRatioMode.KeepAspectRatio)
        scale = ZOOMS[self.zoom]
        w = min(int(fit.width() * scale), pix.width())
        h = round(w * pix.height() / pix.width())
        self.image.setFixedSize(max(1, w), max(1, h))
        self.area.setWidgetResizable(False)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()
