"""The citizen's side of a real call: the kiosk window, the real engine (aiortc), the
emulated centre and an aiortc agent on loopback (tests/assist/assist_peers.py). The agent
gets the masked screen over the data channel, proposes the certificate period, the
citizen confirms on the terminal, hangs up, and camera and microphone are let go."""

from __future__ import annotations

import importlib
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QAbstractButton

from kiosk.ui.assist.state import Phase
from kiosk.ui.form_widgets import Stepper
from kiosk.ui.main_window import MainWindow

# The call engine's peers (tests/assist): imported by name, as pytest does for that folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "assist"))
peers: Any = importlib.import_module("assist_peers")
TIMEOUT_MS = 30000


@pytest.fixture(scope="module")
def centre() -> Iterator[Any]:
    c = peers.Centre(secrets.token_hex(8))
    yield c
    c.stop()


def press(qtbot, root: Any, name: str) -> None:  # type: ignore[no-untyped-def]
    def shown() -> bool:
        b = root.findChild(QAbstractButton, name)
        return b is not None and b.isVisible()
    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)
    root.findChild(QAbstractButton, name).click()


def agent_screens(centre: Any) -> list[dict[str, Any]]:
    media = centre.agent.media
    return [m for m in (media[-1].channel_messages if media else []) if m.get("type") == "screen"]


def kiosk_on_the_certificate(qtbot, make_runtime, centre, tmp_path) -> MainWindow:  # type: ignore[no-untyped-def]
    """The kiosk window on the certificate flow, its help calling the emulated centre."""
    centre.reset(peers.Script(agent_name="工作人员 07"))
    password = tmp_path / "fleet.pw"
    password.write_text(centre.password + "\n", encoding="utf-8")
    rt = make_runtime(camera="sim://?size=640x480&fps=15", microphone="sim://?tone_hz=440",
                      speaker="sim://")
    rt.config = rt.config.with_section("assist", centre_url=centre.url) \
        .with_section("terminal", id="DG-T-0001") \
        .with_section("fleet", password_file=str(password))
    win = MainWindow(rt, QSize(1920, 1080))
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    assert win.assist is not None
    win.show_home()
    win.start_flow("ss_certificate")
    return win


def test_an_agent_picks_the_period_and_the_citizen_confirms(  # type: ignore[no-untyped-def]
        qtbot, make_runtime, centre, tmp_path) -> None:
    win = kiosk_on_the_certificate(qtbot, make_runtime, centre, tmp_path)
    rt, ctl = win.runtime, win.assist
    assert ctl is not None
    for screen, button in (("consent.consent", "action-agree"),
                           ("kind.choice", "option-participation")):
        qtbot.waitUntil(lambda s=screen: win.current_screen == f"ss_certificate.{s}",
                        timeout=TIMEOUT_MS)
        press(qtbot, win.flow_view, button)
    qtbot.waitUntil(lambda: win.current_screen == "ss_certificate.period.form",
                    timeout=TIMEOUT_MS)
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    qtbot.waitUntil(lambda: ctl.state.phase == Phase.IN_CALL and ctl.state.media,
                    timeout=TIMEOUT_MS)
    assert ctl.state.agent == "工作人员 07" and win.idle.held
    (call,) = centre.messages("call")
    assert call["service"] == "ss_certificate" and call["lang"] == "zh_CN"
    # The agent's picture is painted in the kiosk window.
    assert ctl.remote is not None
    remote = ctl.remote
    qtbot.waitUntil(lambda: remote.frames_shown > 0, timeout=TIMEOUT_MS)
    press(qtbot, win, "action-assist-minimise")
    qtbot.waitUntil(lambda: any(m["step"] == "period" and "image" in m
                                for m in agent_screens(centre)), timeout=TIMEOUT_MS)
    period = [m for m in agent_screens(centre) if m["step"] == "period"][-1]
    assert period["image"].startswith("data:image/jpeg;base64,") and not period["locked"]
    stepper = next(s for s in win.flow_view.findChildren(Stepper) if s.f.id == "start")
    before = stepper.value
    centre.propose({"type": "propose", "id": "p1", "seq": period["seq"], "action": "choose",
                    "value": "preset:last_24"})
    qtbot.waitUntil(lambda: ctl.banner is not None, timeout=TIMEOUT_MS)
    assert stepper.value == before  # nothing changes until the citizen says so
    assert ctl.banner is not None
    press(qtbot, ctl.banner, "action-assist-confirm")
    qtbot.waitUntil(lambda: {"type": "proposal", "id": "p1", "result": "confirmed"}
                    in centre.agent.media[-1].channel_messages, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: next(s for s in win.flow_view.findChildren(Stepper)
                                 if s.f.id == "start").value != before, timeout=TIMEOUT_MS)
    # The link drops mid-call: a new connection on the same call, the call bar says so
    # meanwhile, and the agent's new connection gets the screen again.
    connections = len(centre.agent.media)
    centre.drop_socket()
    qtbot.waitUntil(lambda: len(centre.agent.media) > connections
                    and ctl.state.phase == Phase.IN_CALL, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: any(m["step"] == "period" for m in agent_screens(centre)),
                    timeout=TIMEOUT_MS)
    press(qtbot, win, "assist-bar-hangup")
    qtbot.waitUntil(lambda: ctl.state.phase == Phase.IDLE, timeout=TIMEOUT_MS)
    assert [m["reason"] for m in centre.messages("hangup")] == ["citizen"]
    assert not win.idle.held and ctl.remote is None and ctl.own is None
    mic = rt.devices.get("microphone")
    assert mic is not None and mic.subscriber_count() == 0  # type: ignore[attr-defined]
    assert win.current_screen == "ss_certificate.period.form"  # the flow is where it was


def test_an_agent_cannot_pass_the_consent_over_the_wire(  # type: ignore[no-untyped-def]
        qtbot, make_runtime, centre, tmp_path) -> None:
    """The agent's page disables a locked step's controls, but the terminal decides: an
    `agree` proposed over the data channel on the consent screen is refused (reason
    consent), nothing is shown to the citizen, and the flow stays on the consent."""
    win = kiosk_on_the_certificate(qtbot, make_runtime, centre, tmp_path)
    ctl = win.assist
    assert ctl is not None
    qtbot.waitUntil(lambda: win.current_screen == "ss_certificate.consent.consent",
                    timeout=TIMEOUT_MS)
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    qtbot.waitUntil(lambda: ctl.state.phase == Phase.IN_CALL and ctl.state.media,
                    timeout=TIMEOUT_MS)
    press(qtbot, win, "action-assist-minimise")
    qtbot.waitUntil(lambda: any(m["step"] == "consent" for m in agent_screens(centre)),
                    timeout=TIMEOUT_MS)
    consent = [m for m in agent_screens(centre) if m["step"] == "consent"][-1]
    assert consent["locked"] and consent["lock"] == "consent"
    centre.propose({"type": "propose", "id": "p9", "seq": consent["seq"], "action": "choose",
                    "value": "agree"})
    qtbot.waitUntil(lambda: any(m.get("id") == "p9" for m in
                                centre.agent.media[-1].channel_messages), timeout=TIMEOUT_MS)
    [result] = [m for m in centre.agent.media[-1].channel_messages if m.get("id") == "p9"]
    assert result == {"type": "proposal", "id": "p9", "result": "refused", "reason": "consent"}
    assert ctl.banner is None  # the citizen is not even asked
    assert win.current_screen == "ss_certificate.consent.consent"
    press(qtbot, win, "assist-bar-hangup")
    qtbot.waitUntil(lambda: ctl.state.phase == Phase.IDLE, timeout=TIMEOUT_MS)
