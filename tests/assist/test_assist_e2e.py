"""The terminal's call engine end to end: the real operations centre (uvicorn on 127.0.0.1
with the assist hub) and an agent on the console's /assist page in a real Chromium (fake
camera and microphone). The demo's path: the citizen calls, the agent answers, sees the
masked screen, picks the certificate period, the citizen confirms; a call forced through
a private coturn that goes down mid-call and comes back; ring timeout and no agent on duty
at the real centre. Screenshots go to the test's tmp dir (and $OPS_SHOTS_DIR when set)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from assist_peers import WAIT_S, Coturn, Events, free_port, wait_until
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from kiosk.assist.engine import AssistCall, AssistSettings, CallDevices
from kiosk.devices.registry import create_device

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
AGENT, AGENT_PASSWORD = "amy", "agent-pass-1234"
TERMINAL, TERMINAL_PASSWORD = "DG-T-0001", "terminal-secret-e2e"
# Lets the test read the page's peer connections (getStats: candidate types); the page's
# own code is untouched, the constructor is only wrapped before it loads.
KEEP_PEERS = """
window.__pcs = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const pc = new Native(...args); window.__pcs.push(pc); return pc; };
window.RTCPeerConnection.prototype = Native.prototype;
"""
SELECTED_PAIR = """
const done = arguments[arguments.length - 1];
const pc = window.__pcs[window.__pcs.length - 1];
pc.getStats().then((report) => {
  let pair = null; const all = {};
  report.forEach((s) => { all[s.id] = s;
    if (s.type === "transport" && s.selectedCandidatePairId) pair = s.selectedCandidatePairId; });
  const p = pair && all[pair];
  done(p ? [all[p.localCandidateId].candidateType, all[p.remoteCandidateId].candidateType]
         : null);
});
"""
CHOICE = {"type": "screen", "seq": 7, "flow": "social_security_certificate", "step": "period",
          "kind": "choice", "title": "请选择证明的时间段", "lang": "zh_CN", "locked": False,
          "lock": "", "options": [{"value": "12", "label": "近12个月"},
                                  {"value": "24", "label": "近24个月"}],
          "fields": [{"name": "phone", "label": "手机号码", "value": "138****5678"}]}


class Served:
    def __init__(self, app: Any) -> None:
        import threading

        self.app, self.port = app, free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="centre")
        self.thread.start()
        wait_until(lambda: self.server.started, "the centre to start")

    @property
    def hub(self) -> Any:
        return self.app.state.assist

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, coturn: Coturn) -> Iterator[SimpleNamespace]:
    from opscentre import auth
    from opscentre.broker import hash_password
    from opscentre.db import make_engine, make_sessionmaker, upgrade
    from opscentre.settings import AssistSettings as CentreAssist
    from opscentre.settings import CentreSettings
    from opscentre.web import create_app

    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("Chromium and chromedriver are needed (scripts/setup installs them)")
    root = tmp_path_factory.mktemp("assist-e2e")
    (root / "passwd").write_text(f"{TERMINAL}:{hash_password(TERMINAL_PASSWORD)}\n")
    (root / "turn-secret").write_text(coturn.secret + "\n")
    engine = make_engine(f"sqlite:///{root / 'centre.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        auth.add_user(s, AGENT, "agent", AGENT_PASSWORD, by="test")
    settings = CentreSettings(assist=CentreAssist(
        terminal_password_file=str(root / "passwd"),
        turn_urls=(f"turn:127.0.0.1:{coturn.port}?transport=udp",),
        turn_secret_file=str(root / "turn-secret"), reconnect_grace_s=0))
    served = Served(create_app(sessions, settings))
    devices = [create_device("camera", "sim://?size=640x480&fps=15"),
               create_device("microphone", "sim://?tone_hz=440&level=0.1"),
               create_device("speaker", "sim://")]
    for d in devices:
        d.open()
    yield SimpleNamespace(served=served, sessions=sessions, root=root,
                          camera=devices[0], mic=devices[1], speaker=devices[2])
    for d in devices:
        d.close()
    served.stop()
    served.hub.records.close()
    engine.dispose()


@pytest.fixture(scope="module")
def agent(site: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """The agent, signed in on the console's /assist page and on duty."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or ""
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--lang=zh-CN",
                f"--user-data-dir={profile}", "--window-size=1280,1000",
                "--force-device-scale-factor=1", "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_PEERS})
    wait = WebDriverWait(driver, WAIT_S)
    try:
        driver.get(f"http://127.0.0.1:{site.served.port}/assist")
        wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
        driver.find_element(By.ID, "name").send_keys(AGENT)
        driver.find_element(By.ID, "password").send_keys(AGENT_PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        wait.until(lambda d: d.find_element(By.ID, "socket-state").get_attribute(
            "data-state") == "open")
        wait.until(ec.element_to_be_clickable((By.ID, "on-duty"))).click()
        wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#agents .agent.available[data-login="{AGENT}"]')))
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"assist-e2e-{name}.png"
    driver.save_screenshot(str(path))
    out = os.environ.get("OPS_SHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out) / path.name)


def call(site: SimpleNamespace, **kw: Any) -> tuple[AssistCall, Events]:
    settings = AssistSettings(
        centre_url=f"ws://127.0.0.1:{site.served.port}", terminal_id=TERMINAL,
        password=TERMINAL_PASSWORD, **{"reconnect_s": 20.0, "media_timeout_s": 1.5, **kw})
    events = Events()
    c = AssistCall(settings, CallDevices(site.camera, site.mic, site.speaker), events)
    c.start(service="social_security_certificate", service_title="社保参保证明", lang="zh_CN")
    return c, events


def answer(agent: WebDriver, c: AssistCall, events: Events) -> None:
    events.wait("queued")
    WebDriverWait(agent, WAIT_S).until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f'#queue tr[data-call="{c.call_id}"] button.answer'))).click()
    events.wait("answered")
    events.wait("media")


def decoded_frames(agent: WebDriver) -> int:
    return int(agent.execute_script(
        "return document.getElementById('remote-video').webkitDecodedFrameCount || 0"))


def media_both_ways(site: SimpleNamespace, agent: WebDriver, c: AssistCall) -> None:
    heard = site.speaker.counters().samples
    frames = decoded_frames(agent)
    wait_until(lambda: site.speaker.counters().samples > heard + 24_000,
               "the agent's voice at the speaker")
    seen = wait_until(c.remote_video.latest, "the agent's picture")
    assert seen.size == (640, 480)  # Chromium's fake camera, as the page asks for it
    WebDriverWait(agent, WAIT_S).until(lambda d: d.execute_script(
        "return document.getElementById('remote-video').videoWidth") == 640)
    wait_until(lambda: decoded_frames(agent) > frames + 10, "the citizen's video decoded")


def released(site: SimpleNamespace, c: AssistCall) -> None:
    assert c.join(WAIT_S) and not c.active
    assert site.mic.subscriber_count() == 0 and site.camera.latest() is None
    assert not site.speaker.counters().playing


def record(site: SimpleNamespace, cid: str) -> Any:
    from opscentre.models import AssistCall as Row

    site.served.hub.records.flush()
    with site.sessions() as db:
        return db.scalar(select(Row).where(Row.id == cid))


def test_demo_path_agent_answers_picks_the_period_citizen_confirms(
        site: SimpleNamespace, agent: WebDriver, tmp_path: Path) -> None:
    wait = WebDriverWait(agent, WAIT_S)
    c, events = call(site)
    answer(agent, c, events)
    media_both_ways(site, agent, c)
    pair = agent.execute_async_script(SELECTED_PAIR)
    assert pair is not None and "relay" not in pair  # direct: no TURN needed on loopback
    # the terminal's screen on the agent's page; the agent picks 近12个月
    c.send(CHOICE)
    wait.until(ec.text_to_be_present_in_element((By.ID, "step-title"), "请选择证明的时间段"))
    agent.find_element(By.CSS_SELECTOR, '#options button[data-value="12"]').click()
    proposal = events.wait("proposal").message
    assert {k: proposal[k] for k in ("type", "seq", "action", "value")} == \
        {"type": "propose", "seq": 7, "action": "choose", "value": "12"}
    c.send({"type": "proposal", "id": proposal["id"], "result": "confirmed"})  # the citizen
    wait.until(lambda d: d.find_element(By.ID, "proposal").get_attribute("data-result") ==
               "confirmed")
    assert "市民已确认" in agent.find_element(By.ID, "proposal").text
    shot(agent, tmp_path, "01-confirmed")
    agent.find_element(By.ID, "end-resolved").click()
    assert events.wait("ended").reason == "agent"
    released(site, c)
    wait_until(lambda: record(site, c.call_id) is not None and
               record(site, c.call_id).outcome == "resolved", "the call's record")


def test_relay_call_survives_a_turn_outage_then_the_citizen_hangs_up(
        site: SimpleNamespace, agent: WebDriver, coturn: Coturn, tmp_path: Path) -> None:
    hub = site.served.hub
    hub.settings = hub.settings.model_copy(update={"ice_policy": "relay"})
    try:
        c, events = call(site)
        answer(agent, c, events)
        media_both_ways(site, agent, c)
        assert agent.execute_async_script(SELECTED_PAIR) == ["relay", "relay"]
        mark = len(events.items)
        coturn.stop()
        events.wait("reconnecting", after=mark)
        coturn.start()  # the same port: the network is back
        events.wait("media", after=mark)
        media_both_ways(site, agent, c)
        assert agent.execute_async_script(SELECTED_PAIR) == ["relay", "relay"]
        shot(agent, tmp_path, "02-relayed-again")
        c.hang_up()
        assert events.wait("ended").reason == "citizen"
        released(site, c)
        wait = WebDriverWait(agent, WAIT_S)
        wait.until(ec.text_to_be_present_in_element((By.ID, "notice"), "市民已挂断"))
        agent.find_element(By.ID, "end-callback").click()
        wait.until(ec.invisibility_of_element_located((By.ID, "call")))
        wait_until(lambda: record(site, c.call_id) is not None and
                   record(site, c.call_id).outcome == "callback", "the call's record")
    finally:
        hub.settings = hub.settings.model_copy(update={"ice_policy": "all"})
        if coturn.proc is None:
            coturn.start()


def test_ring_timeout_and_no_agent_at_the_real_centre(
        site: SimpleNamespace, agent: WebDriver) -> None:
    c, events = call(site, ring_timeout_s=1.0)  # the agent is on duty and does not answer
    assert events.wait("queued").agents == 1
    assert events.wait("ended").reason == "no_answer"
    released(site, c)
    wait_until(lambda: record(site, c.call_id) is not None and
               record(site, c.call_id).outcome == "no_answer", "the call's record")
    agent.find_element(By.ID, "on-duty").click()  # off duty: nobody left
    try:
        c, events = call(site)
        assert events.wait("unavailable").reason == "no_agent"
        assert events.wait("ended").reason == "no_answer"
        released(site, c)
    finally:
        agent.find_element(By.ID, "on-duty").click()
