"""The real identify screen (Qt widgets) while the SAM reader on a pty reads a card:
请将身份证放在感应区 → 正在读卡 → 读卡成功, and the flow goes on without a tap."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QPushButton

from emulators.sam_emulator import FIND, SamEmulator
from kiosk.ui.citizen import tap
from kiosk.ui.main_window import MainWindow

FAST = "reply_ms=300&read_reply_ms=2000&gap_ms=100&poll_ms=20"


def texts(win: MainWindow, name: str) -> list[str]:
    return [w.text() for w in win.findChildren(QLabel, name) if w.isVisible()]


def test_identify_screen_follows_the_reader(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    with SamEmulator(read_delay=0.8) as emu:  # a real module takes about 1 s to read
        rt = make_runtime(idcard=f"sam+serial://{emu.port}?{FAST}", sscard="sim://")
        win = MainWindow(rt, QSize(1280, 1024))
        qtbot.addWidget(win)
        win.resize(1280, 1024)
        win.show()
        touch = win.attract.findChild(QPushButton, "attractTouch")
        assert touch is not None
        tap(touch)
        tap(win.home.tiles["ss_certificate"])
        qtbot.waitUntil(lambda: win.current_screen.endswith(".identify"), timeout=20000)
        assert any("请将身份证放在感应区" in t for t in texts(win, "stepText")) or \
            "请将身份证放在感应区" in "\n".join(w.text() for w in win.findChildren(QLabel))
        qtbot.waitUntil(lambda: emu.received.count(FIND) >= 3, timeout=5000)
        emu.place("chen")
        qtbot.waitUntil(lambda: "正在读卡，请勿移动证件" in texts(win, "stepStatus"), timeout=5000)
        # No tap: the card is read and the flow moves on by itself.
        qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=20000)
        assert win.session is not None and win.session.identity is not None
        assert win.session.identity.id_number == emu.cards["chen"].number
