"""Lockdown: real key events, close requests and context menus against the kiosk window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit

from kiosk.runtime import Runtime
from kiosk.ui.app import build_window
from kiosk.ui.operations import Lockdown, is_escape_key

K, M = Qt.Key, Qt.KeyboardModifier
ESCAPES = [
    (K.Key_F4, M.AltModifier), (K.Key_Tab, M.AltModifier), (K.Key_Backtab, M.AltModifier |
                                                            M.ShiftModifier),
    (K.Key_Q, M.ControlModifier), (K.Key_W, M.ControlModifier), (K.Key_Escape, M.NoModifier),
    (K.Key_Escape, M.ControlModifier), (K.Key_Space, M.AltModifier),
    (K.Key_Delete, M.ControlModifier | M.AltModifier),
    (K.Key_Backspace, M.ControlModifier | M.AltModifier),
    (K.Key_F2, M.ControlModifier | M.AltModifier), (K.Key_Super_L, M.NoModifier),
    (K.Key_D, M.MetaModifier), (K.Key_F11, M.NoModifier),
]
ORDINARY = [(K.Key_5, M.NoModifier), (K.Key_A, M.ShiftModifier), (K.Key_Backspace, M.NoModifier),
            (K.Key_Return, M.NoModifier), (K.Key_Tab, M.NoModifier), (K.Key_F4, M.NoModifier)]


MODIFIER_KEYS = {K.Key_Shift, K.Key_Control, K.Key_Alt, K.Key_AltGr, K.Key_Meta}


def gui_app() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication)  # pytest-qt made one
    return app


class KeyProbe(QLineEdit):
    def __init__(self, parent) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.keys: list[tuple[int, int]] = []

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() not in MODIFIER_KEYS:  # qtbot presses Alt, Ctrl, … on their own too
            self.keys.append((event.key(), event.modifiers().value))
        super().keyPressEvent(event)


@pytest.fixture
def window(qtbot, kiosk_config):  # type: ignore[no-untyped-def]
    rt = Runtime.create(kiosk_config.with_section("ui", hide_cursor=True))
    rt.open_devices()
    win = build_window(rt, QSize(1280, 1024))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    probe = KeyProbe(win)
    probe.show()
    probe.setFocus()
    win.probe = probe
    yield win
    lock = getattr(win, "lockdown", None)
    if lock is not None:
        lock.release()
    rt.close()


def press_all(qtbot, win, keys) -> None:  # type: ignore[no-untyped-def]
    for key, mods in keys:
        qtbot.keyClick(win.probe, key, mods)


def test_the_filter_itself_is_what_blocks(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Without lockdown the probe receives every escape key; with it, none."""
    press_all(qtbot, window, ESCAPES)
    assert len(window.probe.keys) == len(ESCAPES)
    window.probe.keys.clear()
    lock = Lockdown(gui_app(), window, hide_cursor=False).engage()
    press_all(qtbot, window, ESCAPES)
    assert window.probe.keys == [] and lock.blocked >= len(ESCAPES)
    typed = [k for k in ORDINARY if k[0] != K.Key_Tab]  # plain Tab moves the focus
    press_all(qtbot, window, typed)
    assert [k for k, _ in window.probe.keys] == [k for k, _ in typed]


def test_shortcuts_cannot_fire(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    fired: list[str] = []
    for seq in ("Ctrl+Q", "Alt+F4", "Ctrl+W"):
        sc = QShortcut(QKeySequence(seq), window)
        sc.activated.connect(lambda s=seq: fired.append(s))
    qtbot.keyClick(window.probe, K.Key_Q, M.ControlModifier)
    assert fired == ["Ctrl+Q"]  # the harness does trigger shortcuts
    fired.clear()
    Lockdown(gui_app(), window, hide_cursor=False).engage()
    qtbot.keyClick(window.probe, K.Key_Q, M.ControlModifier)
    qtbot.keyClick(window.probe, K.Key_F4, M.AltModifier)
    qtbot.keyClick(window.probe, K.Key_W, M.ControlModifier)
    assert fired == []


def test_escape_does_not_close_a_dialog(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    dlg = QDialog(window)
    dlg.show()
    qtbot.waitExposed(dlg)
    qtbot.keyClick(dlg, K.Key_Escape)
    assert not dlg.isVisible()  # without lockdown Escape closes it
    Lockdown(gui_app(), window, hide_cursor=False).engage()
    dlg.show()
    qtbot.keyClick(dlg, K.Key_Escape)
    assert dlg.isVisible()
    dlg.close()  # a programmatic close of a dialog still works


def test_window_refuses_to_close_until_released(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    lock = Lockdown(gui_app(), window, hide_cursor=False).engage()
    assert not window.close()
    assert window.isVisible()
    window.windowHandle().close()  # as a window manager would ask
    assert window.isVisible()
    lock.release()
    assert window.close() and not window.isVisible()


def test_context_menus_are_off(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    def right_click() -> None:
        ev = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(5, 5),
                               window.probe.mapToGlobal(QPoint(5, 5)))
        QApplication.sendEvent(window.probe, ev)

    right_click()
    menu = QApplication.activePopupWidget()
    assert menu is not None  # a line edit has its own context menu ...
    menu.close()
    Lockdown(gui_app(), window, hide_cursor=False).engage()
    right_click()
    assert QApplication.activePopupWidget() is None  # ... but not under lockdown


def test_cursor_hidden_on_touch_panels(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    assert QGuiApplication.overrideCursor() is None
    lock = Lockdown(gui_app(), window, hide_cursor=True).engage()
    cursor = QGuiApplication.overrideCursor()
    assert cursor is not None and cursor.shape() == Qt.CursorShape.BlankCursor
    lock.release()
    assert QGuiApplication.overrideCursor() is None


def test_window_flags(window) -> None:  # type: ignore[no-untyped-def]
    Lockdown(gui_app(), window, hide_cursor=False).engage()
    flags = window.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint
    assert flags & Qt.WindowType.WindowStaysOnTopHint
    assert window.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu


@pytest.mark.parametrize("key,mods", ESCAPES)
def test_escape_table(key, mods) -> None:  # type: ignore[no-untyped-def]
    assert is_escape_key(key, mods)


@pytest.mark.parametrize("key,mods", ORDINARY)
def test_ordinary_keys_pass(key, mods) -> None:  # type: ignore[no-untyped-def]
    assert not is_escape_key(key, mods)
