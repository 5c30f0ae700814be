"""Maintenance mode through the real widgets: gesture, PIN pad, card, dashboard, leave."""

from __future__ import annotations

import re
import threading
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtWidgets import QPushButton

from kiosk.devices.base import Device, DeviceState, DeviceStatus, DeviceUri
from kiosk.maintenance.access import card_entry
from kiosk.maintenance.actions import ActionResult
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow
from synthetic.citizens import BY_KEY

PIN = "48151623"


@pytest.fixture
def make_window(kiosk_windows, kiosk_config, recorder):  # type: ignore[no-untyped-def]
    def make(size: QSize | None = None, **sections):  # type: ignore[no-untyped-def]
        cfg = kiosk_config.with_section(
            "maintenance", technician_cards=(card_entry(BY_KEY["wang"].id_number),),
            pin_max_failures=3)
        for name, values in sections.items():
            cfg = cfg.with_section(name, **values)
        return kiosk_windows(cfg, QSize(1920, 1080) if size is None else size, recorder)

    return make


def tap(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))


def gesture(qtbot, win, taps: int = 5) -> None:  # type: ignore[no-untyped-def]
    for _ in range(taps):
        tap(qtbot, win.corner_taps)


def enter_pin(qtbot, win, pin: str = PIN) -> None:  # type: ignore[no-untyped-def]
    pad = win.maintenance.pinpad
    digits = {b.property("digit"): b for b in pad.findChildren(QPushButton, "pinDigit")}
    for d in pin:
        qtbot.mouseClick(digits[d], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(pad.ok, Qt.MouseButton.LeftButton)


def open_dashboard(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    gesture(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    enter_pin(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.dashboard", timeout=10_000)
    dash = win.maintenance.dashboard
    qtbot.waitUntil(lambda: dash.snapshot is not None, timeout=10_000)


def button(dash, kind: str, action: str) -> QPushButton:  # type: ignore[no-untyped-def]
    return dash.rows[kind].buttons[action]


def test_gesture_needs_five_quick_taps(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    gesture(qtbot, win, 4)
    qtbot.wait(50)
    assert win.stack.currentWidget() is win.attract
    now = [100.0]
    win.corner_taps.clock = lambda: now[0]
    for _ in range(5):  # five taps, but a second apart: 3 s window exceeded
        tap(qtbot, win.corner_taps)
        now[0] += 1.0
    assert win.stack.currentWidget() is win.attract
    gesture(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    assert win.stack.currentWidget() is win.maintenance


def test_pin_opens_the_dashboard_and_flows_wait(qtbot, make_window, recorder) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    open_dashboard(qtbot, win)
    assert recorder.events() == ["maintenance.enter"]
    assert recorder.last("maintenance.enter")["method"] == "pin"
    dash = win.maintenance.dashboard
    assert set(dash.rows) == {"idcard", "sscard", "receipt", "a4", "scanner", "camera",
                              "microphone", "speaker"}
    qtbot.waitUntil(lambda: dash.rows["receipt"].state.property("level") == "ok")
    assert "0.1" in dash.info.text() or dash.info.text()
    win.start_flow("ss_certificate")  # a citizen's flow cannot start meanwhile
    assert win.session is None and win.stack.currentWidget() is win.maintenance
    assert not win.header.isEnabled()
    leave = next(b for b in dash.findChildren(QPushButton, "maintAction")
             if b.property("action") == "leave")
    qtbot.mouseClick(leave, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.current_screen == "attract")
    assert recorder.events() == ["maintenance.enter", "maintenance.exit"]
    assert win.header.isEnabled() and not win.maintenance.is_open


def test_wrong_pin_then_lockout(qtbot, make_window, recorder) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    gesture(qtbot, win)
    msg = win.maintenance.pin_message
    enter_pin(qtbot, win, "000000")
    qtbot.waitUntil(lambda: "2" in msg.text() and "错误" in msg.text())
    enter_pin(qtbot, win, "000000")
    qtbot.waitUntil(lambda: "1" in msg.text())
    enter_pin(qtbot, win, "000000")
    qtbot.waitUntil(lambda: "分钟" in msg.text())
    enter_pin(qtbot, win)  # the right PIN, but locked
    qtbot.waitUntil(lambda: recorder.events().count("maintenance.pin_refused") == 4)
    assert win.current_screen == "maintenance.entry"
    cancel = win.maintenance.pinpad.findChild(QPushButton, "pinCancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.current_screen == "attract")
    gesture(qtbot, win)  # coming back shows the lock at once
    qtbot.waitUntil(lambda: "分钟" in win.maintenance.pin_message.text())


def test_technician_card_opens_without_pin(qtbot, make_window, recorder) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    gesture(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    reader = win.runtime.devices["idcard"]
    reader.place_card("chen")  # a citizen's card: refused, shown masked
    qtbot.waitUntil(lambda: "不在维护人员名单" in win.maintenance.pin_message.text(),
                    timeout=10_000)
    assert BY_KEY["chen"].id_number not in win.maintenance.pin_message.text()
    reader.remove_card()
    win.runtime.devices["sscard"].place_card("wang")  # the technician's card, other reader
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.dashboard", timeout=10_000)
    assert recorder.last("maintenance.enter")["method"] == "card"
    assert recorder.events()[0] == "maintenance.card_refused"


def test_dashboard_actions(qtbot, make_window, tmp_path, recorder) -> None:  # type: ignore[no-untyped-def]
    win = make_window(devices={"scanner": "sim://?code=HELLO-TOKEN-1234567890&delay_ms=50"})
    open_dashboard(qtbot, win)
    dash = win.maintenance.dashboard
    rt = win.runtime

    def run(kind: str, action: str) -> object:
        tag = f"{action}:{kind}"
        dash.results.pop(tag, None)
        qtbot.mouseClick(button(dash, kind, action), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tag in dash.results, timeout=15_000)
        return dash.results[tag]

    def act(kind: str, action: str) -> ActionResult:
        res = run(kind, action)
        assert isinstance(res, ActionResult), res
        return res

    run("receipt", "selftest")
    assert dash.report.text().startswith("✔ 凭条打印机：通过")
    run("receipt", "test_receipt")
    assert len(rt.devices["receipt"].jobs) == 1 and "打印完成" in dash.report.text()
    run("a4", "test_page")
    assert len(rt.devices["a4"].jobs) == 1
    rt.devices["idcard"].place_card("li")
    res = act("idcard", "card_read")
    assert res.ok and BY_KEY["li"].id_number not in dash.report.text()
    assert res.data["id_number"] in dash.report.text()
    assert act("receipt", "restart").ok
    scan = act("scanner", "scan")
    assert scan.ok and scan.data["length"] == len("HELLO-TOKEN-1234567890")
    assert "HELLO-TOKEN-1234567890" not in dash.report.text()
    rt.devices["receipt"].set_paper("out")
    qtbot.waitUntil(lambda: dash.rows["receipt"].state.property("level") == "fault",
                    timeout=10_000)
    assert "缺纸" in dash.rows["receipt"].details.text()
    # Every action is audited with its outcome.
    actions = [(p["action"], p["device"], p["ok"]) for s, p in recorder.items
               if p["event"] == "maintenance.action"]
    assert actions == [("selftest", "receipt", True), ("test_receipt", "receipt", True),
                       ("test_page", "a4", True), ("card_read", "idcard", True),
                       ("restart", "receipt", True), ("scan", "scanner", True)]


def test_export_logs_from_the_dashboard(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    logs = win.runtime.config.data_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "kiosk.log").write_text("read card 441900199001011234\n")
    open_dashboard(qtbot, win)
    dash = win.maintenance.dashboard
    export = next(b for b in dash.findChildren(QPushButton, "maintAction")
              if b.property("action") == "exportLogs")
    qtbot.mouseClick(export, Qt.MouseButton.LeftButton)
    target = win.runtime.config.data_dir / "exports"
    choice = next(b for b in dash.findChildren(QPushButton, "exportTarget")
              if b.property("path") == str(target))
    qtbot.mouseClick(choice, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "export:-" in dash.results, timeout=10_000)
    zips = list(Path(target).glob("kiosk-logs-*.zip"))
    assert len(zips) == 1 and str(zips[0]) in dash.report.text()
    with zipfile.ZipFile(zips[0]) as zf:
        text = zf.read("logs/kiosk.log").decode() + zf.read("health.json").decode()
    assert "4419**********1234" in text and "441900199001011234" not in text


def test_camera_preview_and_fps(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("kiosk.ui.camera_view")
    win = make_window(devices={"camera": "sim://?fps=20"})
    open_dashboard(qtbot, win)
    dash = win.maintenance.dashboard
    qtbot.mouseClick(button(dash, "camera", "camera"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dash.camera_view is not None and dash.camera_view.frames_shown > 3,
                    timeout=10_000)
    def fps() -> float:
        m = re.search(r"([0-9.]+) 帧/秒", dash.rows["camera"].details.text())
        return float(m.group(1)) if m else 0.0

    qtbot.waitUntil(lambda: fps() > 0, timeout=10_000)
    view = dash.camera_view
    qtbot.mouseClick(button(dash, "camera", "camera"), Qt.MouseButton.LeftButton)
    assert dash.camera_view is None and not dash.camera.isVisible()
    assert view._unsubscribe is None  # the preview let go of the camera


class StuckPrinter(Device):
    """A printer whose driver hangs in every call."""

    kind = "receipt"

    def __init__(self) -> None:
        super().__init__(DeviceUri.parse("escpos+serial:///dev/ttyS9"))
        self.release = threading.Event()

    def open(self) -> None: ...

    def close(self) -> None:
        self.release.set()

    def status(self) -> DeviceStatus:
        self.release.wait(60)
        return DeviceStatus(DeviceState.OFFLINE)

    def self_test(self):  # type: ignore[no-untyped-def]
        self.release.wait(60)
        raise RuntimeError("never")


def test_a_hanging_device_never_freezes_the_screen(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    stuck = StuckPrinter()
    win.runtime.devices.devices["receipt"] = stuck
    try:
        open_dashboard(qtbot, win)
        dash = win.maintenance.dashboard
        qtbot.waitUntil(lambda: "status_timeout" in dash.snapshot.device("receipt").details,
                        timeout=15_000)
        qtbot.mouseClick(button(dash, "receipt", "selftest"), Qt.MouseButton.LeftButton)
        assert not button(dash, "receipt", "selftest").isEnabled()  # busy, not frozen
        qtbot.mouseClick(button(dash, "a4", "selftest"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "selftest:a4" in dash.results, timeout=10_000)
        win.maintenance.leave()
        qtbot.waitUntil(lambda: win.current_screen == "attract")
    finally:
        stuck.release.set()


def test_idle_technician_is_signed_out(qtbot, make_window, recorder) -> None:  # type: ignore[no-untyped-def]
    win = make_window(maintenance={"idle_timeout_s": 0.5})
    open_dashboard(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "attract", timeout=10_000)
    assert recorder.last("maintenance.exit")["reason"] == "idle"


def test_gesture_is_ignored_during_a_citizen_session(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    win = make_window()
    win.show_home()
    win.start_flow("ss_certificate")
    assert win.session is not None
    gesture(qtbot, win)
    qtbot.wait(50)
    assert win.stack.currentWidget() is not win.maintenance
    win._end_session("test")


@pytest.mark.parametrize("size", [QSize(1920, 1080), QSize(1080, 1920), QSize(1280, 1024)])
def test_maintenance_screens_fit(qtbot, make_window, size) -> None:  # type: ignore[no-untyped-def]
    win = make_window(size)
    gesture(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    assert win.size() == size and layout_problems(win) == []
    enter_pin(qtbot, win)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.dashboard", timeout=10_000)
    dash = win.maintenance.dashboard
    qtbot.waitUntil(lambda: dash.snapshot is not None, timeout=10_000)
    qtbot.mouseClick(next(b for b in dash.findChildren(QPushButton, "maintAction")
                      if b.property("action") == "selftestAll"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "selftest:*" in dash.results, timeout=10_000)
    qtbot.wait(50)
    assert win.size() == size and layout_problems(win) == []
    win.grab().save(str(Path(win.runtime.config.data_dir) / f"maint-{size.width()}.png"))


def test_nightly_restart_only_from_the_attract_screen(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from kiosk.ui.operations import Operations

    class WindowOnly(Operations):
        """Operations' judgement of the window, without the lockdown, watchdog, heartbeat
        and signal handlers that `kiosk run` starts with it."""

        def __init__(self, win: MainWindow) -> None:  # deliberately not Operations.__init__
            self.win = win

    win = make_window()
    ops = WindowOnly(win)
    assert not ops.busy()
    win.show_home()  # a citizen may be choosing a service
    assert ops.busy()
    win.show_attract()
    gesture(qtbot, win)  # a technician at the PIN pad
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    assert ops.busy()
