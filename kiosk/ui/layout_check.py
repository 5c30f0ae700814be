"""What a person would see wrong on a screen, found from the live widget tree.

Used by `kiosk gallery` and the tests, at every panel size, mode and language. Each
rule describes something visible in a screenshot:

- ``off-window``: a widget that leaves the window;
- ``window-grew``: the kiosk window wider or taller than its panel (something on
  screen asked for more room than there is; the panel's edge cuts the rest off);
- ``clipped``: a widget cut by an ancestor (a fixed panel, a card), or by a scroll
  area that cannot scroll that way;
- ``behind-scroll``: a control a citizen needs while on the screen (an on-screen
  keyboard, a queue number) hidden under the fold of a scroll area, and scroll areas too
  small to be used by touch;
- ``text-cut``: text needing more width or height than its label or button has, and text
  widgets drawn over each other;
- ``small-target``: a touch target below the documented minimum (docs/accessibility.md,
  ``theme.TARGETS``);
- ``mixed-language``: text in another language or script than the one chosen (English
  mode showing Chinese; Simplified characters in Traditional mode and the reverse;
  English sentences in Chinese modes).

Widgets may opt out of one rule by a property: ``anyLanguage`` (the language buttons,
each in its own script; the terminal id; what the citizen typed), ``mayScroll`` (content
meant to scroll); ``layer`` marks an overlay drawn over the screen (the idle countdown),
``hotspot`` an invisible touch area.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QLabel,
    QScrollArea,
    QWidget,
)

from kiosk.i18n import _script_only
from kiosk.ui import theme

TOLERANCE = 1  # px: rounding in layouts
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# An English word (two words make a phrase, unlike a token such as "EN", "QR", "A4").
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
# Markup in rich-text labels is not text a person reads.
TAGS = re.compile(r"<[^>]+>|&[a-z]+;")


@dataclass(frozen=True)
class Problem:
    rule: str
    widget: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.widget} {self.detail}"


def _name(w: QWidget) -> str:
    return f"{type(w).__name__}#{w.objectName() or '?'}"


def _text(w: QWidget) -> str:
    if isinstance(w, QLabel):
        return TAGS.sub("", w.text()) if w.pixmap().isNull() else ""
    if isinstance(w, QAbstractButton):
        return w.text()
    return ""


def _rect_in(w: QWidget, root: QWidget) -> QRect:
    return QRect(w.mapTo(root, QPoint(0, 0)), w.size())


def _visible(w: QWidget, root: QWidget) -> bool:
    return w.isVisibleTo(root) and w.width() > 0 and w.height() > 0


def _ancestors(w: QWidget, root: QWidget) -> Iterable[QWidget]:
    p = w.parentWidget()
    while p is not None and p is not root:
        yield p
        p = p.parentWidget()


def _scroll_area_of(viewport: QWidget) -> QAbstractScrollArea | None:
    parent = viewport.parentWidget()
    if isinstance(parent, QAbstractScrollArea) and parent.viewport() is viewport:
        return parent
    return None


def _can_scroll(area: QAbstractScrollArea, vertical: bool) -> bool:
    """The area lets the citizen reach content beyond its viewport that way (its bar may
    not have caught up with a layout made a moment ago: the content's size decides)."""
    bar = area.verticalScrollBar() if vertical else area.horizontalScrollBar()
    policy = area.verticalScrollBarPolicy() if vertical else area.horizontalScrollBarPolicy()
    if policy == Qt.ScrollBarPolicy.ScrollBarAlwaysOff:
        return False
    inner = area.widget() if isinstance(area, QScrollArea) else None
    viewport = area.viewport()
    bigger = inner is not None and (inner.height() > viewport.height() if vertical
                                    else inner.width() > viewport.width())
    return bar.maximum() > 0 or bigger


def _must_show(w: QWidget) -> bool:
    """Controls that must be on screen without scrolling while the screen is used."""
    return any(p.property("mustShow") for p in (w, *_ancestors(w, w.window())))


def _cut_by(w: QWidget, root: QWidget, rect: QRect, problems: list[Problem]) -> None:
    """Clipping of `w` by each ancestor: a panel may not cut anything; a scroll area only
    in a direction it can scroll, and never a control that must show."""
    for a in _ancestors(w, root):
        arect = _rect_in(a, root)
        if arect.contains(rect):
            continue
        # How far the widget reaches past each side (not the intersection: a widget
        # wholly below the fold is cut vertically, not sideways).
        cut_w = max(0, arect.left() - rect.left()) + max(0, rect.right() - arect.right())
        cut_h = max(0, arect.top() - rect.top()) + max(0, rect.bottom() - arect.bottom())
        if cut_w <= TOLERANCE and cut_h <= TOLERANCE:
            continue
        area = _scroll_area_of(a)
        if area is not None:
            if _must_show(w) and not w.property("mayScroll"):
                problems.append(Problem("behind-scroll", _name(w),
                                        f"needed on screen but cut {cut_w}x{cut_h}px by "
                                        f"{_name(area)}"))
            elif (cut_h > TOLERANCE and not _can_scroll(area, True)) or \
                    (cut_w > TOLERANCE and not _can_scroll(area, False)):
                inner = area.widget() if isinstance(area, QScrollArea) else None
                size = f"{inner.width()}x{inner.height()}" if inner is not None else "?"
                problems.append(Problem("clipped", _name(w),
                                        f"cut {cut_w}x{cut_h}px by {_name(area)} (viewport "
                                        f"{a.width()}x{a.height()}, content {size}), which "
                                        "cannot scroll that way"))
            return
        problems.append(Problem("clipped", _name(w), f"{rect.getRect()} cut {cut_w}x{cut_h}px "
                                                     f"by {_name(a)} {arect.getRect()}"))
        return


def _in_scrolling_area(w: QWidget, root: QWidget) -> bool:
    for a in _ancestors(w, root):
        area = _scroll_area_of(a)
        if area is not None and (_can_scroll(area, True) or _can_scroll(area, False)):
            return True
    return False


def _text_fits(w: QWidget, problems: list[Problem]) -> None:
    text = _text(w)
    if not text.strip():
        return
    fm = w.fontMetrics()
    m = w.contentsMargins()
    avail_w = w.width() - m.left() - m.right()
    avail_h = w.height() - m.top() - m.bottom()
    short = text.replace("\n", " ")[:24]
    if isinstance(w, QLabel):
        if w.wordWrap():
            need = w.heightForWidth(w.width())
            if need > w.height() + TOLERANCE:
                problems.append(Problem("text-cut", _name(w),
                                        f"'{short}' needs {need}px height, has {w.height()}"))
            return
        lines = text.split("\n")
        need_w = max(fm.horizontalAdvance(line) for line in lines)
        need_h = fm.height() * len(lines)
    else:
        need_w = fm.horizontalAdvance(text)
        need_h = fm.height()
    if need_w > avail_w + TOLERANCE:
        problems.append(Problem("text-cut", _name(w),
                                f"'{short}' needs {need_w}px width, has {avail_w}"))
    if need_h > avail_h + TOLERANCE:
        problems.append(Problem("text-cut", _name(w),
                                f"'{short}' needs {need_h}px height, has {avail_h}"))


def _layer(w: QWidget) -> object:
    """The layer a widget is drawn in: an overlay (``layer`` property) covers the screen."""
    p: QWidget | None = w
    while p is not None:
        if p.property("layer"):
            return p
        p = p.parentWidget()
    return None


def _overlaps(texts: list[tuple[QWidget, QRect]], problems: list[Problem]) -> None:
    """Text widgets drawn over one another (a title over its subtitle)."""
    for i, (a, ra) in enumerate(texts):
        for b, rb in texts[i + 1:]:
            if a.isAncestorOf(b) or b.isAncestorOf(a) or _layer(a) is not _layer(b):
                continue
            inter = ra.intersected(rb)
            if inter.width() > 2 * TOLERANCE and inter.height() > 2 * TOLERANCE:
                problems.append(Problem("text-cut", _name(a),
                                        f"'{_text(a)[:16]}' overlaps {_name(b)} "
                                        f"'{_text(b)[:16]}' by {inter.width()}x{inter.height()}"))


def _target_size(w: QWidget, m: theme.Metrics, problems: list[Problem]) -> None:
    need_w, need_h = theme.target_minimum(w.objectName(), m)
    if w.width() + TOLERANCE < need_w or w.height() + TOLERANCE < need_h:
        problems.append(Problem("small-target", _name(w),
                                f"'{_text(w)[:12]}' is {w.width()}x{w.height()}px, "
                                f"needs {need_w}x{need_h}"))


def language_problems(texts: Iterable[tuple[QWidget, str]], locale: str) -> list[Problem]:
    """Text in another language or script than `locale`."""
    simplified_only, traditional_only = _script_only()
    out: list[Problem] = []
    for w, text in texts:
        short = text.replace("\n", " ")[:24]
        if locale == "en":
            if CJK.search(text):
                out.append(Problem("mixed-language", _name(w), f"'{short}' is not English"))
            continue
        wrong = traditional_only if locale == "zh_CN" else simplified_only
        bad = sorted({c for c in text if c in wrong})
        if bad:
            script = "Traditional" if locale == "zh_CN" else "Simplified"
            out.append(Problem("mixed-language", _name(w),
                               f"'{short}' has {script} characters {''.join(bad[:6])}"))
        elif not CJK.search(text) and len(ENGLISH_WORD.findall(text)) >= 2:
            out.append(Problem("mixed-language", _name(w), f"'{short}' is English"))
    return out


def _exempt(w: QWidget, root: QWidget, prop: str) -> bool:
    return any(bool(p.property(prop)) for p in (w, *_ancestors(w, root)))


def check(root: QWidget, *, metrics: theme.Metrics | None = None,
          locale: str | None = None) -> list[Problem]:
    """Every visible defect under `root`. A MainWindow brings its own metrics and locale."""
    m = metrics or getattr(root, "m", None)
    if locale is None:  # a MainWindow's chosen language
        chosen = getattr(root, "ui_locale", None)
        locale = chosen if isinstance(chosen, str) else None
    problems: list[Problem] = []
    bounds = QRect(QPoint(0, 0), root.size())
    panel = getattr(root, "screen_size", None)  # a MainWindow's panel
    if isinstance(panel, QSize) and (root.width() > panel.width()
                                     or root.height() > panel.height()):
        # Something on screen asks for more room than the panel has: the window grew
        # past it and the rest of the screen is cut off by the panel's edge.
        problems.append(Problem("window-grew", _name(root),
                                f"{root.width()}x{root.height()} on a "
                                f"{panel.width()}x{panel.height()} panel"))
    texts: list[tuple[QWidget, QRect]] = []
    shown_texts: list[tuple[QWidget, str]] = []
    for w in root.findChildren(QWidget):
        if not _visible(w, root) or w.property("hotspot"):
            continue  # hidden, or an invisible touch area (the technician's corner)
        rect = _rect_in(w, root)
        scrolling = _in_scrolling_area(w, root)
        if not bounds.contains(rect) and not scrolling:
            problems.append(Problem("off-window", _name(w),
                                    f"{rect.getRect()} not in {bounds.getRect()}"))
        _cut_by(w, root, rect, problems)
        text = _text(w)
        if text.strip():
            _text_fits(w, problems)
            if not scrolling:
                texts.append((w, rect))
            if not _exempt(w, root, "anyLanguage"):
                shown_texts.append((w, text))
        if m is not None and (isinstance(w, QAbstractButton) or w.property("touchTarget")):
            _target_size(w, m, problems)
        if isinstance(w, QScrollArea) and m is not None and _can_scroll(w, True) \
                and w.viewport().height() < 2 * m.px(theme.TARGETS["button"][1]):
            problems.append(Problem("behind-scroll", _name(w),
                                    f"scrolls in a {w.viewport().height()}px high viewport, "
                                    "too small to use by touch"))
    _overlaps(texts, problems)
    if locale:
        problems.extend(language_problems(shown_texts, locale))
    return problems


def layout_problems(root: QWidget, **kw: object) -> list[str]:
    """`check` as text lines (empty = all fits)."""
    return [str(p) for p in check(root, **kw)]  # type: ignore[arg-type]
