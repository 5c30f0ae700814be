"""Find text that does not fit and widgets that leave the window (for tests and the gallery)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractButton, QLabel, QScrollArea, QWidget


def _visible(w: QWidget, root: QWidget) -> bool:
    return w.isVisibleTo(root) and w.width() > 0 and w.height() > 0


def _in_scroll_area(w: QWidget, root: QWidget) -> bool:
    """Content of a scroll area may extend beyond the window: it is reachable by scrolling."""
    p = w.parentWidget()
    while p is not None and p is not root:
        if isinstance(p, QScrollArea):
            return True
        p = p.parentWidget()
    return False


def layout_problems(root: QWidget) -> list[str]:
    """Describe every clipped text or off-window widget under `root` (empty = all fits)."""
    problems: list[str] = []
    bounds = QRect(QPoint(0, 0), root.size())
    for w in root.findChildren(QWidget):
        if not _visible(w, root):
            continue
        top_left = w.mapTo(root, QPoint(0, 0))
        rect = QRect(top_left, w.size())
        name = f"{type(w).__name__}#{w.objectName() or '?'}"
        if not bounds.contains(rect) and not _in_scroll_area(w, root):
            problems.append(f"{name} leaves the window: {rect.getRect()} not in {bounds.getRect()}")
        if isinstance(w, QLabel) and w.text() and w.pixmap().isNull():
            fm = w.fontMetrics()
            m = w.contentsMargins()
            avail_w = w.width() - m.left() - m.right()
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + 1:
                    problems.append(f"{name} '{w.text()[:20]}' needs {need}px height, "
                                    f"has {w.height()}")
            else:
                need = max(fm.horizontalAdvance(line) for line in w.text().split("\n"))
                if need > avail_w + 1:
                    problems.append(f"{name} '{w.text()[:20]}' needs {need}px width, "
                                    f"has {avail_w}")
        if isinstance(w, QAbstractButton) and w.text():
            fm = w.fontMetrics()
            need = fm.horizontalAdvance(w.text())
            if need > w.width():
                problems.append(f"{name} '{w.text()[:20]}' text {need}px > button {w.width()}px")
    return problems
