"""The kiosk window while the platform is unreachable: paused tiles, a banner, and both
cleared by themselves when the link returns; a terminal that boots offline shows home."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize

from kiosk.network import LinkState
from kiosk.ui.main_window import MainWindow

from .helpers import client_for


def _runtime(make_runtime: Any, backend: Any, proxy: Any) -> Any:
    rt = make_runtime()
    rt.backend = client_for(backend, proxy.url)
    rt.config = rt.config.with_section("offline", probe_interval_s=0.2, probe_backoff_cap_s=0.3)
    rt.offline.config = rt.config
    return rt


def _window(qtbot: Any, rt: Any) -> MainWindow:
    win = MainWindow(rt, QSize(1920, 1080))
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    return win


def test_offline_pauses_online_flows_and_recovers_by_itself(  # type: ignore[no-untyped-def]
        qtbot, make_runtime, backend, proxy) -> None:
    rt = _runtime(make_runtime, backend, proxy)
    proxy.cut()  # the terminal boots with no network
    rt.start_offline()
    win = _window(qtbot, rt)
    win.show_home()
    tile = win.home.tiles["ss_certificate"]
    assert rt.package.flows["ss_certificate"].requires_online
    qtbot.waitUntil(lambda: not win.offline_banner.isHidden(), timeout=20000)
    assert rt.offline.link is LinkState.OFFLINE
    tile = win.home.tiles["ss_certificate"]
    assert not tile.isEnabled() and not tile.paused.isHidden()
    assert tile.paused.text() == "离线状态，该业务暂停办理"
    assert "网络连接中断" in win.offline_banner.text()
    win.start_flow("ss_certificate")  # a paused flow cannot be started
    assert win.session is None
    proxy.restore()
    qtbot.waitUntil(lambda: win.offline_banner.isHidden(), timeout=20000)
    tile = win.home.tiles["ss_certificate"]
    assert tile.isEnabled() and tile.paused.isHidden()


def test_reference_catalog_is_cached_for_an_offline_boot(  # type: ignore[no-untyped-def]
        qtbot, make_runtime, backend, proxy, admin) -> None:
    admin.set_catalog(disabled=["ss_certificate"])
    try:
        online = _runtime(make_runtime, backend, proxy)
        online.refresh_reference()  # online: fetched and kept in the read cache
        assert [f.id for f in online.home_catalog()] == [
            f.id for f in online.package.catalog() if f.id != "ss_certificate"]
    finally:
        admin.set_catalog(disabled=[])
    proxy.cut()
    rt = _runtime(make_runtime, backend, proxy)  # a fresh boot, same data folder, offline
    rt.refresh_reference()
    assert "ss_certificate" not in [f.id for f in rt.home_catalog()]  # from the cache
    win = _window(qtbot, rt)
    win.show_home()
    assert "ss_certificate" not in win.home.tiles
    assert win.current_screen == "home"
