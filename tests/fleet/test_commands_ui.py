"""Remote commands on the real kiosk window (pytest-qt, offscreen) through a real
Mosquitto: the screenshot blanks the citizen's area, out of service is shown to citizens
in three languages (layout-checked) and survives a restart, a disruptive command waits
for the citizen to leave, and the screen goes dark at night and wakes on a touch or a
card."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from command_helpers import Centre, write_key
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel

from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime
from kiosk.ui.citizen import DEFAULT_SCRIPT, ScriptedCitizen, tap
from kiosk.ui.citizen_scripts import script_for
from kiosk.ui.layout_check import check
from kiosk.ui.main_window import MainWindow
from kiosk.ui.remote import BLANK, QtHost
from synthetic.citizens import BY_KEY

MESSAGE = {"zh_CN": "设备升级维护中，预计今晚恢复", "zh_HK": "設備升級維護中，預計今晚恢復",
           "en": "Upgrading this terminal; back tonight"}


@dataclass
class Kiosk:
    rt: Runtime
    win: MainWindow
    host: QtHost
    hb: Heartbeat
    tid: str
    data: Path

    def close(self) -> None:
        self.hb.stop()
        self.win.close()
        self.rt.close()


@pytest.fixture
def centre(mosquitto: Any, subscriber: Any, tmp_path: Path) -> Iterator[Centre]:
    key, pub = write_key(tmp_path / "centre")
    c = Centre(mosquitto, key, subscriber())
    c.pub = pub  # type: ignore[attr-defined]
    yield c
    c.close()


@pytest.fixture
def make_kiosk(qtbot: Any, mosquitto: Any, backend: Any, tmp_path: Path, centre: Centre,
               ) -> Iterator[Callable[..., Kiosk]]:
    """The real window on simulated devices against the reference backend, with the
    fleet channel, the centre's key pinned and remote commands wired as `kiosk run`
    wires them (QtHost given to the heartbeat)."""
    from kiosk.backend.client import BackendClient
    from kiosk.config import Config, validate_config

    made: list[Kiosk] = []

    def make(size: tuple[int, int] = (1080, 1920), *, idle_s: float = 60.0,
             data: Path | None = None, **devices: str) -> Kiosk:
        tid = backend.terminal_id
        creds = mosquitto.provision([tid])
        pw = tmp_path / "fleet.password"
        pw.write_text(creds[tid] + "\n")
        data = data or tmp_path / "data"
        cfg = Config().with_section(
            "devices", **{"idcard": "sim://?card=chen", "sscard": "sim://",
                          "a4": f"sim://?spool={tmp_path / 'a4'}",
                          "receipt": f"sim://?spool={tmp_path / 'receipt'}", **devices})
        cfg = cfg.with_section("storage", data_dir=str(data))
        cfg = cfg.with_section("terminal", id=tid)
        # The shared platform, not an embedded one: no e-seal root (tests/conftest.py).
        cfg = cfg.with_section("backend", url=backend.url)
        cfg = cfg.with_section("session", idle_timeout_s=idle_s,
                               countdown_s=min(1.0, idle_s))
        cfg = cfg.with_section("fleet", broker_url=mosquitto.setup.url, password_file=str(pw),
                               reconnect_min_s=0.05, reconnect_max_s=0.5,
                               reconnect_spread_s=0.0,
                               command_key=str(centre.pub))  # type: ignore[attr-defined]
        rt = Runtime.create(validate_config(cfg))
        rt.open_devices()
        rt.backend = BackendClient(backend.url, tid, backend.secret)
        rt.backend_ready.set()
        win = MainWindow(rt, QSize(*size))
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        host = QtHost(win)
        hb = Heartbeat(rt, interval_s=3600, fault_poll_s=3600, host=host)
        host.attach(hb.commands)
        hb.start()
        qtbot.waitUntil(lambda: hb.fleet.link.listening, timeout=20000)
        made.append(Kiosk(rt, win, host, hb, tid, data))
        return made[-1]

    yield make
    for k in made:
        k.hb.stop()
        k.rt.close()


def answer(qtbot: Any, centre: Centre, tid: str, cid: str, state: str) -> dict[str, Any]:
    """Wait (running the Qt loop) for a command's answer in `state`."""
    found: dict[str, Any] = {}

    def seen() -> bool:
        a = next((a for a in centre.answers(tid, cid) if a["state"] == state), None)
        if a is not None:
            found.update(a)
        return a is not None

    qtbot.waitUntil(seen, timeout=30000)
    return found


def texts(win: MainWindow) -> str:
    parts = [w.text() for w in win.findChildren(QLabel) if w.isVisible()]
    parts += [w.text() for w in win.findChildren(QAbstractButton) if w.isVisible()]
    return "\n".join(parts)


def screenshot(qtbot: Any, centre: Centre, k: Kiosk) -> tuple[QImage, dict[str, Any]]:
    cid = centre.send(k.tid, "screenshot")
    answer(qtbot, centre, k.tid, cid, "done")
    att = centre.attachment(k.tid, cid, timeout=30)
    meta = next(a["result"]["image"] for a in centre.answers(k.tid, cid)
                if a["state"] == "done")
    image = QImage.fromData(att.data)
    assert not image.isNull() and att.media_type == "image/png"
    return image, meta


def region(image: QImage, rect: QRect) -> set[int]:
    """The distinct pixel values inside `rect` (sampled every 3 px)."""
    return {image.pixel(x, y) for x in range(rect.left(), rect.right() + 1, 3)
            for y in range(rect.top(), rect.bottom() + 1, 3)}


def first_message(k: Kiosk) -> str:
    label = k.host.notice.findChild(QLabel, "oosMessage")
    return label.text() if label is not None else ""


def stack_rect(win: MainWindow) -> QRect:
    return QRect(win.stack.mapTo(win, QPoint(0, 0)), win.stack.size())


# -- screenshot --------------------------------------------------------------------------------
def test_a_screenshot_blanks_the_citizens_area_during_a_session(qtbot: Any, make_kiosk: Any,
                                                                centre: Centre) -> None:
    k = make_kiosk()
    win = k.win
    idle, meta = screenshot(qtbot, centre, k)
    assert meta == {"width": 1080, "height": 1920, "blanked": False, "screen": "attract"}
    assert region(idle, stack_rect(win)) != {BLANK.rgb()}  # the attract screen, as seen

    # A citizen goes as far as the certificate's preview (their name and ID number drawn
    # on the page) and stays there.
    script = script_for("ss_certificate", DEFAULT_SCRIPT)
    script["preview"] = []
    ScriptedCitizen(win, "ss_certificate", None, lambda _ok: None, script=script,
                    delay_ms=30)
    win.screenShown.emit(win.current_screen)
    qtbot.waitUntil(lambda: win.current_screen.endswith(".preview"), timeout=60000)
    session = win.session
    chen = BY_KEY["chen"]
    assert session is not None and session.identity is not None
    assert session.identity.id_number == chen.id_number
    qtbot.wait(300)  # the page is drawn
    live = win.grab().toImage()
    image, meta = screenshot(qtbot, centre, k)
    assert meta["blanked"] is True and meta["screen"].endswith(".preview")
    area = stack_rect(win)
    assert region(image, area) == {BLANK.rgb()}  # one flat colour: nothing of the screen
    assert region(live, area) != {BLANK.rgb()}
    # Outside it (header, footer) the screenshot is what the panel shows.
    header = QRect(0, 0, win.width(), area.top())
    assert region(image, header) == region(live, header)
    # The citizen was not interrupted.
    assert win.session is session and win.current_screen.endswith(".preview")
    results = "\n".join(m.payload.decode() for m in centre.watch.on(k.tid, "results"))
    assert chen.id_number not in results and chen.name not in results


# -- out of service ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080)])
def test_out_of_service_is_shown_in_three_languages_and_survives_a_restart(
        qtbot: Any, make_kiosk: Any, centre: Centre, size: tuple[int, int]) -> None:
    k = make_kiosk(size)
    win, rt = k.win, k.rt
    cid = centre.send(k.tid, "out_of_service", {"message": MESSAGE})
    answer(qtbot, centre, k.tid, cid, "done")
    qtbot.waitUntil(lambda: win.stack.currentWidget() is k.host.notice, timeout=5000)
    assert win.current_screen == "out_of_service"
    for locale, button in (("zh_CN", "lang-zh_CN"), ("zh_HK", "lang-zh_HK"),
                           ("en", "lang-en")):
        tap(win.chrome_buttons[button])
        qtbot.waitUntil(lambda lc=locale: first_message(k) == MESSAGE[lc], timeout=5000)
        assert win.ui_locale == locale
        assert win.stack.currentWidget() is k.host.notice  # a redraw keeps the notice
        shown = texts(win)
        for msg in MESSAGE.values():  # the chosen language first, the others too
            assert msg in shown
        problems = check(win)
        assert problems == [], (locale, [str(p) for p in problems])
    # No service can be started: tiles paused, the home screen never shows.
    win.show_home()
    assert win.stack.currentWidget() is k.host.notice
    win.start_flow("ss_certificate")
    assert win.session is None
    assert all(rt.flow_paused(f) for f in rt.package.catalog())

    k.close()  # a restart: the notice is back at once
    again = make_kiosk(size, data=k.data)
    qtbot.waitUntil(lambda: again.win.stack.currentWidget() is again.host.notice,
                    timeout=5000)
    cid = centre.send(k.tid, "in_service")
    answer(qtbot, centre, k.tid, cid, "done")
    qtbot.waitUntil(lambda: again.win.current_screen == "attract", timeout=5000)
    assert again.win.stack.currentWidget() is again.win.attract
    tap(again.win.attract.touch)
    qtbot.waitUntil(lambda: again.win.current_screen == "home", timeout=5000)
    assert not any(again.rt.flow_paused(f) for f in again.rt.package.catalog()
                   if not f.requires_online)


def test_out_of_service_and_volume_wait_for_the_citizen(qtbot: Any, make_kiosk: Any,
                                                         centre: Centre) -> None:
    k = make_kiosk(idle_s=2.0)
    win = k.win
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=20000)
    session = win.session
    oos = centre.send(k.tid, "out_of_service", {"message": MESSAGE})
    vol = centre.send(k.tid, "set_volume", {"level": 25})
    for cid in (oos, vol):
        assert answer(qtbot, centre, k.tid, cid, "pending")["reason"] == "session_active"
    assert win.session is session and win.current_screen.endswith(".consent")
    assert win.voice.volume == 100 and k.rt.out_of_service is None
    # The citizen walks away: the idle timeout ends the session, then the commands run.
    qtbot.waitUntil(lambda: win.session is None, timeout=20000)
    answer(qtbot, centre, k.tid, oos, "done")
    answer(qtbot, centre, k.tid, vol, "done")
    assert win.voice.volume == 25
    qtbot.waitUntil(lambda: win.stack.currentWidget() is k.host.notice, timeout=5000)
    assert centre.states(k.tid, oos) == ["received", "pending", "running", "done"]


# -- the screen at night -----------------------------------------------------------------------
def test_night_hours_darken_the_screen_a_touch_or_a_card_wakes_it(
        qtbot: Any, make_kiosk: Any, centre: Centre) -> None:
    k = make_kiosk(idle_s=1.0, idcard="sim://")
    win, saver = k.win, k.host.saver
    now = datetime.now()
    off, on = (now - timedelta(minutes=1)).strftime("%H:%M"), \
        (now + timedelta(minutes=90)).strftime("%H:%M")
    cid = centre.send(k.tid, "screen_schedule", {"off": off, "on": on})
    answer(qtbot, centre, k.tid, cid, "done")
    qtbot.waitUntil(lambda: saver.dark, timeout=10000)
    assert saver.cover.isVisible() and saver.cover.geometry() == win.root.rect()
    image, meta = screenshot(qtbot, centre, k)
    assert meta["screen"] == "screen_off" and meta["blanked"] is False
    assert region(image, stack_rect(win)) == {0xFF000000}  # black

    tap(win.attract.touch)  # a touch right where the attract screen's button is
    assert not saver.dark and not saver.cover.isVisible()
    assert win.current_screen == "attract"  # the waking touch pressed nothing
    qtbot.waitUntil(lambda: saver.dark, timeout=10000)  # idle again: dark again

    # Once the dark screen has looked at the readers, a card put on one wakes it.
    qtbot.waitUntil(lambda: saver._cards is not None, timeout=10000)
    win.runtime.devices["idcard"].place_card("chen")  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: not saver.dark, timeout=10000)
    assert not saver.cover.isVisible()
    # A card left on the reader does not keep the screen lit.
    qtbot.waitUntil(lambda: saver.dark, timeout=10000)
    qtbot.wait(2500)  # polls of the reader with the card still on it: it stays dark
    assert saver.dark
    cid = centre.send(k.tid, "screen_schedule", {})
    answer(qtbot, centre, k.tid, cid, "done")
    qtbot.waitUntil(lambda: not saver.dark, timeout=5000)
    assert saver.schedule is None
