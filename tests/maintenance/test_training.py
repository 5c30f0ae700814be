"""Training mode through the real widgets: the panel drives the simulators (cards, codes,
faults), the dashboard and the flows see what it did, and the pinned panel works while a
citizen's flow runs. Taps go through `kiosk.ui.citizen.tap` (a real mouse click)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSize

from emulators.escpos_listener import EscposListener
from kiosk.devices.base import DeviceState
from kiosk.maintenance.training import Training
from kiosk.network import LinkState
from kiosk.ui.citizen import tap
from kiosk.ui.layout_check import check
from synthetic.services import appointment_qr

PIN = "48151623"


@pytest.fixture
def window(kiosk_windows, kiosk_config, recorder):  # type: ignore[no-untyped-def]
    def make(size: QSize | None = None, locale: str = "zh_CN", backend: bool = False,
             **devices: str):  # type: ignore[no-untyped-def]
        cfg = kiosk_config.with_section("terminal", locale=locale)
        if devices:
            cfg = cfg.with_section("devices", **devices)
        if backend:  # the embedded reference backend, so the link can be cut
            cfg = cfg.with_section("offline", probe_interval_s=0.5, probe_backoff_cap_s=0.5)
        return kiosk_windows(cfg, size or QSize(1920, 1080), recorder, backend)

    return make


def open_dashboard(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    win.open_maintenance()
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    pad = win.maintenance.pinpad
    digits = {b.property("digit"): b for b in pad.findChildren(type(pad.ok), "pinDigit")}
    for d in PIN:
        tap(digits[d])
    tap(pad.ok)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.dashboard", timeout=10_000)


def action_button(root, action: str):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QPushButton

    found = [b for b in root.findChildren(QPushButton) if b.property("action") == action]
    return found[0] if found else None


def open_training(qtbot, win):  # type: ignore[no-untyped-def]
    open_dashboard(qtbot, win)
    tap(action_button(win.maintenance.dashboard, "training"))
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.training")
    return win.maintenance.training_page.panel


def control(panel, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open the control's section, then tap the control."""
    tap(panel.sections[name.split(".")[0]])
    tap(panel.controls[name])


def test_receipt_paper_out_from_the_panel(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    win = window()
    panel = open_training(qtbot, win)
    printer = win.runtime.devices["receipt"]
    control(panel, "receipt.paper.out")
    st = printer.status()
    assert st.state is DeviceState.USER_ERROR and "paper_out" in st.details
    assert panel.controls["receipt.paper.out"].property("on") == "true"
    assert not printer.print_raw(b"x").ok  # the simulator refuses to print
    tap(action_button(win.maintenance.training_page, "back"))
    dash = win.maintenance.dashboard
    qtbot.waitUntil(lambda: "缺纸" in dash.rows["receipt"].details.text(), timeout=10_000)
    control(panel, "receipt.paper.ok")
    assert printer.status().state is DeviceState.ONLINE


def test_every_fault_and_its_cure(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    win = window()
    panel = open_training(qtbot, win)
    d = win.runtime.devices
    for name, kind, detail in (("a4.media.empty", "a4", "paper_out"),
                               ("a4.media.jam", "a4", "media_jam"),
                               ("a4.door", "a4", "cover_open"),
                               ("receipt.paper.low", "receipt", "paper_low"),
                               ("receipt.cover", "receipt", "cover_open")):
        control(panel, name)
        assert detail in d[kind].status().details, name
    control(panel, "a4.door")  # closes it again
    control(panel, "a4.media.ok")
    assert d["a4"].status().state is DeviceState.ONLINE
    for kind in ("idcard", "sscard", "scanner"):
        control(panel, f"{kind}.plug")
        assert d[kind].status().state is DeviceState.NO_DEVICE, kind
        control(panel, f"{kind}.plug")
        assert d[kind].status().state is DeviceState.ONLINE, kind
    # The scanner shows the appointment code to whoever listens.
    seen: list[str] = []
    unsubscribe = d["scanner"].subscribe(lambda ev: seen.append(ev.code))
    control(panel, "scanner.appt.chen")
    qtbot.waitUntil(lambda: seen == [appointment_qr("chen")], timeout=5_000)
    unsubscribe()
    # Cards on and off the readers, shown on the panel.
    control(panel, "sscard.place.li")
    assert d["sscard"].card == "li" and "card_present" in d["sscard"].status().details
    assert "li" in panel.status.text()
    control(panel, "sscard.remove")
    assert d["sscard"].card is None


def test_an_unplugged_reader_fails_a_read(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from kiosk.devices.base import DeviceError

    win = window()
    panel = open_training(qtbot, win)
    control(panel, "idcard.place.chen")
    control(panel, "idcard.plug")
    with pytest.raises(DeviceError) as err:
        win.runtime.devices["idcard"].read_identity(1.0, threading.Event())
    assert err.value.key == "device.idcard.offline"


def test_pinned_panel_puts_a_card_during_a_citizen_flow(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    win = window()
    open_training(qtbot, win)
    tap(action_button(win.maintenance.training_page, "pinTraining"))
    dock = win.maintenance.dock
    assert dock is not None and not dock.isVisible()  # not over the maintenance page
    win.maintenance.leave()
    qtbot.waitUntil(lambda: win.current_screen == "attract")
    assert dock.isVisible() and not dock.expanded
    assert dock.geometry().bottom() <= win.height() and dock.width() < win.width() // 4
    win.show_home()
    win.start_flow("ss_certificate")
    qtbot.waitUntil(lambda: "identify" in win.current_screen, timeout=15_000)
    screen = win.current_screen
    assert dock.isVisible()
    tap(dock.tab)
    assert dock.expanded and dock.panel.isVisible()
    problems = [str(p) for p in check(dock, metrics=win.m, locale="zh_CN")]
    assert problems == []
    control(dock.panel, "idcard.place.chen")
    qtbot.waitUntil(lambda: win.current_screen != screen, timeout=15_000)  # identified
    assert win.session is not None and win.session.identity is not None
    tap(dock.tab)  # collapse
    assert not dock.expanded
    tap(dock.tab)
    tap(dock.unpin)
    assert win.maintenance.dock is None
    win._end_session("test")


def test_no_training_on_real_devices(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    with EscposListener() as listener:
        win = window(idcard="", sscard="", a4="", scanner="", camera="",
                     receipt=listener.uri)
        assert not Training(win.runtime).available
        open_dashboard(qtbot, win)
        assert action_button(win.maintenance.dashboard, "training") is None
        assert win.maintenance.training_page is None
        win.maintenance.leave()


@pytest.mark.parametrize("locale", ["zh_CN", "zh_HK", "en"])
@pytest.mark.parametrize("size", [QSize(1920, 1080), QSize(1080, 1920), QSize(1280, 1024)],
                         ids=["landscape", "portrait", "square"])
def test_training_page_and_dock_fit_in_every_language(qtbot, window, locale, size) -> None:  # type: ignore[no-untyped-def]
    win = window(size, locale)
    panel = open_training(qtbot, win)
    for kind in panel.sections:
        tap(panel.sections[kind])
        assert [str(p) for p in check(win, locale=locale)] == [], kind
    tap(action_button(win.maintenance.training_page, "pinTraining"))
    win.maintenance.leave()
    qtbot.waitUntil(lambda: win.current_screen == "attract")
    dock = win.maintenance.dock
    tap(dock.tab)
    for kind in dock.panel.sections:
        tap(dock.panel.sections[kind])
        assert [str(p) for p in check(dock, metrics=win.m, locale=locale)] == [], kind


@pytest.mark.slow
def test_network_down_and_back(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    win = window(backend=True)
    rt = win.runtime
    assert rt.offline.monitor.wait_for(LinkState.ONLINE, 30)
    panel = open_training(qtbot, win)
    control(panel, "network")
    qtbot.waitUntil(lambda: rt.offline.link is LinkState.OFFLINE, timeout=30_000)
    qtbot.waitUntil(lambda: panel.controls["network"].property("on") == "true",
                    timeout=30_000)
    control(panel, "network")
    qtbot.waitUntil(lambda: rt.offline.link is LinkState.ONLINE, timeout=60_000)
