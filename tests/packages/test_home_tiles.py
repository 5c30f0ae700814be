"""A published package changes the home screen of a running kiosk, between citizens only.

Real MainWindow (pytest-qt), real runtime, real TUF repository over HTTP.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QPushButton

from kiosk.ui.citizen import tap
from kiosk.ui.main_window import MainWindow

from .conftest import OpsEnv, Server, make_terminal


def test_new_service_appears_between_sessions_and_disabled_one_goes(
        qtbot, make_runtime, tmp_path: Path, ops_env: OpsEnv,  # type: ignore[no-untyped-def]
        server: Server) -> None:
    rt = make_runtime()
    rt.config = rt.config.with_section("session", idle_timeout_s=1.0, countdown_s=0.5)
    rt.packages = make_terminal(tmp_path / "pk", ops_env, server.url,
                                terminal_id=rt.config.terminal.id)
    rt.package = rt.packages.load_active()
    win = MainWindow(rt, QSize(1280, 1024))
    qtbot.addWidget(win)
    win.resize(1280, 1024)
    win.show()
    builtin = set(win.home.tiles)
    assert "ss_certificate" in builtin and "housing_proof" not in builtin
    before = rt.package

    # A citizen starts a service; meanwhile ops publish a new one and the terminal stages it.
    tap(attract_touch(win))
    tap(win.home.tiles["ss_certificate"])
    assert win.session is not None
    ops_env.publish("dg-extra", "1.0.0",
                    flows={"housing_proof": {"title_zh": "不动产权属查询", "order": 5}})
    assert rt.packages.poll().changed
    assert win.apply_packages() is False and rt.apply_staged_packages() is False
    assert rt.package is before and set(win.home.tiles) == builtin

    # The citizen walks away; the session ends (idle) and the new tile is there, no restart.
    qtbot.waitUntil(lambda: win.session is None, timeout=20000)
    qtbot.waitUntil(lambda: "housing_proof" in win.home.tiles, timeout=5000)
    assert rt.package.versions == {"builtin": "1.0.0", "dg-extra": "1.0.0"}
    assert win.home.tiles["housing_proof"].title.text() == "不动产权属查询"
    assert rt.packages.status()["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]

    # The new service runs: its consent text comes from the package.
    tap(attract_touch(win))
    tap(win.home.tiles["housing_proof"])
    qtbot.waitUntil(lambda: win.current_screen.startswith("housing_proof.consent"),
                    timeout=10000)
    qtbot.waitUntil(lambda: win.session is None, timeout=20000)

    # Next version switches the built-in certificate service off: its tile disappears
    # on the next idle check on the attract screen.
    ops_env.publish("dg-extra", "1.1.0", disable=["ss_certificate"],
                    flows={"housing_proof": {"title_zh": "不动产权属查询", "order": 5}})
    assert rt.packages.poll().changed
    win._package_timer.setInterval(50)
    qtbot.waitUntil(lambda: "ss_certificate" not in win.home.tiles, timeout=10000)
    assert set(win.home.tiles) == (builtin - {"ss_certificate"}) | {"housing_proof"}
    assert "ss_certificate" not in rt.package.flows


def attract_touch(win: MainWindow) -> QPushButton:
    touch = win.attract.findChild(QPushButton, "attractTouch")
    assert touch is not None
    return touch
