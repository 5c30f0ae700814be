"""The agent's page in a real Chromium (fake camera and microphone) against the hub on
127.0.0.1: an agent logs in, goes on duty, sees a waiting call, answers; the terminal's
side is the test's own peer (aiohttp WebSocket + aiortc, speaking docs/assist.md), so the
page meets a real offer, real media both ways and a real `assist` data channel: the
masked screen, a choice and a field proposed and answered, a locked consent step, hold,
end with an outcome; and the same call forced through a private coturn (relay only).
Screenshots go to the test's tmp dir (and to $OPS_SHOTS_DIR when set)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from assist_helpers import (
    PASSWORDS,
    TERMINALS,
    WAIT_S,
    Served,
    basic,
    free_port,
    password_file,
    users,
)
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.models import AssistCall
from opscentre.settings import AssistSettings, CentreSettings
from opscentre.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
T = TypeVar("T")


# -- the peers: coturn, the terminal's side ----------------------------------------------------
class Coturn:
    """A private coturn on 127.0.0.1 with the REST secret the centre signs with."""

    def __init__(self, folder: Path, secret: str) -> None:
        self.port = free_port()
        self.log = folder / "turn.log"
        self.proc = subprocess.Popen(
            [shutil.which("turnserver") or "/usr/bin/turnserver", "-n",
             "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={self.port}", "--use-auth-secret",
             f"--static-auth-secret={secret}", "--realm=kiosk", "--no-tls", "--no-dtls",
             "--no-tcp", "--allow-loopback-peers", "--no-cli", f"--log-file={self.log}", "-v",
             "--simple-log", "--no-software-attribute", f"--pidfile={folder}/turn.pid",
             f"--userdb={folder}/turndb"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def relayed(self, call: str) -> bool:
        """coturn relayed for `call`: allocations and permissions with the credentials the
        centre made for it (its verbose log says so)."""
        text = self.log.read_text(errors="replace")
        mine = [line for line in text.splitlines() if f":{call}>" in line]
        return (any("ALLOCATE processed, success" in line for line in mine)
                and any("CREATE_PERMISSION processed, success" in line for line in mine))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class Loop:
    """An asyncio loop on its own thread for the terminal's peer (aiortc keeps sending
    while the test drives the browser)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT_S * 2)

    def stop(self) -> None:
        async def cancel_the_rest() -> None:  # aioice's TURN refreshes, left-over receivers
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT_S)


class Terminal:
    """The terminal's side of one call, as docs/assist.md has it: the WebSocket to the
    centre, the offer, audio+video out, the agent's media in, the `assist` data channel."""

    def __init__(self, ws_url: str, tid: str = "DG-T-0001") -> None:
        self.url, self.tid = ws_url, tid
        self.pc: RTCPeerConnection | None = None
        self.channel: Any = None
        self.from_agent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.agent_video: list[tuple[int, int]] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(
            f"{self.url}/assist/terminal",
            headers={"Authorization": basic(self.tid, TERMINALS[self.tid])})

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(msg))

    async def expect(self, kind: str) -> dict[str, Any]:
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), WAIT_S)
            if msg["type"] == kind:
                return dict(msg)
            assert msg["type"] in ("queued",), msg

    async def media(self, answered: dict[str, Any], restart: bool = False) -> None:
        if self.pc is not None:  # a new agent (a transfer), a dropped link: a new connection
            await self.pc.close()
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"),
                                credential=s.get("credential"))
                   for s in answered["ice_servers"]]
        policy = (RTCIceTransportPolicy.RELAY if answered["ice_policy"] == "relay"
                  else RTCIceTransportPolicy.ALL)
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers,
                                                          iceTransportPolicy=policy))
        pc.addTrack(VideoStreamTrack())
        pc.addTrack(AudioStreamTrack())
        self.channel = pc.createDataChannel("assist")
        opened = asyncio.Event()
        self.channel.on("open", opened.set)
        self.channel.on("message", lambda m: self.from_agent.put_nowait(json.loads(m)))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self.tasks.append(asyncio.ensure_future(self._watch(track)))

        await pc.setLocalDescription(await pc.createOffer())
        await self.send({"type": "offer", "sdp": pc.localDescription.sdp, "restart": restart})
        answer = await self.expect("answer")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(opened.wait(), WAIT_S)

    async def _watch(self, track: MediaStreamTrack) -> None:
        frame = await track.recv()
        self.agent_video.append((frame.width, frame.height))  # type: ignore[union-attr]

    async def screen(self, msg: dict[str, Any]) -> None:
        self.channel.send(json.dumps(msg, ensure_ascii=False))

    async def proposal(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.from_agent.get(), WAIT_S)

    async def drop(self) -> None:
        """The network goes: media and the centre's socket both lost, no goodbye."""
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        await self.ws.close()
        await self.http.close()

    async def close(self) -> None:
        await self.drop()


def screen_jpeg() -> str:
    """A picture of a (masked) terminal screen, as the terminal would send it."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (540, 304), "#f4f7fb")
    d = ImageDraw.Draw(img)
    font: Any
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 22)
    except OSError:
        font = ImageFont.load_default()
    d.rectangle((0, 0, 540, 44), fill="#12324f")
    d.text((16, 10), "社保缴费证明 · 陈*梅", fill="white", font=font)
    d.text((24, 70), "请选择证明的时间段", fill="#1d2733", font=font)
    for i, label in enumerate(("近12个月", "近24个月")):
        d.rounded_rectangle((24 + i * 250, 120, 254 + i * 250, 190), 8, outline="#0b5cad",
                            width=3)
        d.text((80 + i * 250, 142), label, fill="#0b5cad", font=font)
    d.text((24, 230), "手机号码 138****5678", fill="#1d2733", font=font)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


CHOICE = {"type": "screen", "seq": 7, "flow": "social_security_certificate", "step": "period",
          "kind": "choice", "title": "请选择证明的时间段", "lang": "zh_CN", "locked": False,
          "lock": "", "options": [{"value": "12", "label": "近12个月"},
                                  {"value": "24", "label": "近24个月"}],
          "fields": [{"name": "phone", "label": "手机号码", "value": "138****5678"}]}
CONSENT = {"type": "screen", "seq": 8, "flow": "social_security_certificate",
           "step": "consent", "kind": "consent", "title": "请阅读并同意授权查询",
           "lang": "zh_CN", "locked": True, "lock": "consent",
           "options": [{"value": "agree", "label": "同意"}], "fields": []}


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("Chromium and chromedriver are needed (Debian packages chromium and "
                    "chromium-driver; scripts/setup installs them)")
    root = tmp_path_factory.mktemp("assist-browser")
    secret = base64.b16encode(os.urandom(16)).decode()
    (root / "turn-secret").write_text(secret)
    turn = Coturn(root, secret)
    engine = make_engine(f"sqlite:///{root / 'centre.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    users(sessions)
    settings = CentreSettings(assist=AssistSettings(
        terminal_password_file=str(password_file(root / "passwd")),
        turn_urls=(f"turn:127.0.0.1:{turn.port}?transport=udp",),
        turn_secret_file=str(root / "turn-secret"), reconnect_grace_s=0))
    served = Served(create_app(sessions, settings))
    loop = Loop()
    yield SimpleNamespace(served=served, sessions=sessions, turn=turn, loop=loop, root=root)
    loop.stop()
    served.stop()
    turn.stop()
    engine.dispose()


@pytest.fixture
def make_browser(tmp_path: Path) -> Iterator[Callable[..., WebDriver]]:
    """`make_browser(lang="zh-CN")`: a headless Chromium with fake camera and microphone."""
    made: list[WebDriver] = []

    def make(lang: str = "zh-CN") -> WebDriver:
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM or ""
        profile = tmp_path / f"chromium-profile-{len(made)}"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-dev-shm-usage", f"--lang={lang}",
                    f"--user-data-dir={profile}", "--window-size=1280,1000",
                    "--force-device-scale-factor=1", "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required"):
            opts.add_argument(arg)
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
        driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
        driver.set_page_load_timeout(WAIT_S)
        made.append(driver)
        return driver

    yield make
    for d in made:
        d.quit()


@pytest.fixture
def browser(make_browser: Callable[..., WebDriver]) -> WebDriver:
    return make_browser()


def shot(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"assist-{name}.png"
    driver.save_screenshot(str(path))
    out = os.environ.get("OPS_SHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out) / path.name)
    return path


def sign_in_and_go_on_duty(driver: WebDriver, served: Served, name: str = "amy") -> None:
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(served.url + "/assist")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "socket-state").get_attribute(
        "data-state") == "open")
    wait.until(ec.element_to_be_clickable((By.ID, "on-duty"))).click()
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#agents .agent.available[data-login="{name}"]')))


def answer(driver: WebDriver, site: SimpleNamespace, term: Terminal, tmp_path: Path,
           name: str | None = None, cid: str = "") -> dict[str, Any]:
    """The terminal calls (unless `cid` is a call already made), the agent answers from the
    queue, media and data channel up."""
    wait = WebDriverWait(driver, WAIT_S)
    if not cid:
        cid = str(uuid.uuid4())
        site.loop.run(term.open())
        site.loop.run(term.send({"type": "call", "call": cid, "service": "social_security_"
                                 "certificate", "service_title": "社保缴费证明",
                                 "lang": "zh_CN"}))
        queued = site.loop.run(term.expect("queued"))
        assert queued["position"] == 1
    button = wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f'#queue tr[data-call="{cid}"] button.answer')))
    if name:
        shot(driver, tmp_path, name)
    assert driver.title.startswith("(1) ")  # the tab says a call waits
    assert driver.find_element(By.ID, "assist").get_attribute("data-ringing") == "1"  # chimes
    button.click()
    answered = site.loop.run(term.expect("answered"))
    try:
        site.loop.run(term.media(answered))
    except TimeoutError:
        raise AssertionError("no answer from the page: " + driver.find_element(
            By.ID, "media-state").text + " / " + driver.find_element(By.ID, "notice").text
            ) from None
    # the citizen's picture plays on the page
    wait.until(lambda d: d.execute_script(
        "return document.getElementById('remote-video').videoWidth") > 0)
    assert driver.find_element(By.ID, "media-state").get_attribute("data-state") == "media"
    assert not driver.find_element(By.ID, "assist").get_attribute("data-ringing")  # stopped
    return {"call": cid, **answered}


# -- tests ---------------------------------------------------------------------------------------
def test_agent_answers_cofills_and_ends_in_chromium(site: SimpleNamespace, browser: WebDriver,
                                                     tmp_path: Path) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    sign_in_and_go_on_duty(browser, site.served)
    term = Terminal(site.served.ws)
    call = answer(browser, site, term, tmp_path, "01-queue")
    assert call["ice_policy"] == "all" and call["agent"] != "amy"
    assert browser.find_element(By.ID, "call-terminal").text == "DG-T-0001"

    # the masked screen and the step; the agent picks the period, the citizen confirms
    site.loop.run(term.screen({**CHOICE, "image": screen_jpeg()}))
    wait.until(ec.text_to_be_present_in_element((By.ID, "step-title"), "请选择证明的时间段"))
    wait.until(lambda d: d.execute_script(
        "return document.getElementById('mirror').naturalWidth") == 540)
    browser.find_element(By.CSS_SELECTOR, '#options button[data-value="12"]').click()
    proposal = site.loop.run(term.proposal())
    assert {k: proposal[k] for k in ("type", "seq", "action", "value")} == {
        "type": "propose", "seq": 7, "action": "choose", "value": "12"}
    assert browser.find_element(By.ID, "proposal").get_attribute("data-result") == "pending"
    site.loop.run(term.screen({"type": "proposal", "id": proposal["id"],
                               "result": "confirmed"}))
    wait.until(ec.text_to_be_present_in_element((By.ID, "proposal"), "市民已确认"))
    shot(browser, tmp_path, "02-confirmed")
    # the agent has the citizen's own (fake) camera picture sent back: the terminal got it
    assert site.loop.run(_until(lambda: bool(term.agent_video)))
    assert term.agent_video[0][0] > 0

    # a field, proposed and declined by the citizen
    browser.find_element(By.ID, "field-phone").send_keys("13800005678")
    browser.find_element(By.CSS_SELECTOR, 'button.propose[data-field="phone"]').click()
    fill = site.loop.run(term.proposal())
    assert {k: fill[k] for k in ("seq", "action", "field", "value")} == {
        "seq": 7, "action": "fill", "field": "phone", "value": "13800005678"}
    site.loop.run(term.screen({"type": "proposal", "id": fill["id"], "result": "declined"}))
    wait.until(ec.text_to_be_present_in_element((By.ID, "proposal"), "市民选择了不用"))

    # consent stays with the citizen: controls off, the reason shown; a refusal reads so
    site.loop.run(term.screen(CONSENT))
    wait.until(ec.text_to_be_present_in_element((By.ID, "step-title"), "请阅读并同意授权查询"))
    agree = browser.find_element(By.CSS_SELECTOR, '#options button[data-value="agree"]')
    assert not agree.is_enabled()
    assert "同意须由市民本人确认" in browser.find_element(By.ID, "lock").text
    site.loop.run(term.screen({"type": "proposal", "id": "p9", "result": "refused",
                               "reason": "consent"}))
    wait.until(ec.text_to_be_present_in_element((By.ID, "proposal"),
                                                "终端拒绝：同意须由市民本人确认"))
    shot(browser, tmp_path, "03-locked")

    # hold and resume reach the terminal
    browser.find_element(By.ID, "hold").click()
    site.loop.run(term.expect("hold"))
    wait.until(ec.visibility_of_element_located((By.ID, "resume"))).click()
    site.loop.run(term.expect("resume"))

    # end with an outcome: the terminal is told, camera and microphone let go, recorded
    browser.find_element(By.ID, "end-resolved").click()
    assert site.loop.run(term.expect("ended")) == {"type": "ended", "reason": "agent"}
    wait.until(ec.invisibility_of_element_located((By.ID, "call")))
    assert browser.execute_script(
        "return document.getElementById('local-video').srcObject === null")
    shot(browser, tmp_path, "04-ended")
    site.loop.run(term.close())
    site.served.hub.records.flush()
    with site.sessions() as db:
        row = db.scalar(select(AssistCall).where(AssistCall.id == call["call"]))
    assert row is not None and (row.outcome, row.agents) == ("resolved", ["amy"])
    browser.find_element(By.ID, "records-link").click()
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#records tr[data-call="{call["call"]}"] td.outcome.resolved')))
    shot(browser, tmp_path, "06-records")


def test_call_forced_through_turn(site: SimpleNamespace, browser: WebDriver,
                                  tmp_path: Path) -> None:
    hub = site.served.hub
    hub.settings = hub.settings.model_copy(update={"ice_policy": "relay"})
    try:
        wait = WebDriverWait(browser, WAIT_S)
        sign_in_and_go_on_duty(browser, site.served, "abe")
        term = Terminal(site.served.ws, "DG-T-0002")
        call = answer(browser, site, term, tmp_path)  # both sides: relay candidates only
        assert call["ice_policy"] == "relay"
        (server,) = call["ice_servers"]
        assert server["urls"] == [f"turn:127.0.0.1:{site.turn.port}?transport=udp"]
        assert site.turn.relayed(call["call"])
        site.loop.run(term.screen({**CHOICE, "image": screen_jpeg()}))
        wait.until(ec.text_to_be_present_in_element((By.ID, "step-title"), "请选择证明的时间段"))
        shot(browser, tmp_path, "05-relayed")
        site.loop.run(term.send({"type": "hangup", "reason": "citizen"}))
        # the citizen hung up: the agent is told and still gives the outcome
        wait.until(ec.text_to_be_present_in_element((By.ID, "notice"), "市民已挂断"))
        browser.find_element(By.ID, "end-callback").click()
        wait.until(ec.invisibility_of_element_located((By.ID, "call")))
        site.loop.run(term.close())
        hub.records.flush()

        def outcome() -> str:
            with site.sessions() as db:
                row = db.scalar(select(AssistCall).where(AssistCall.id == call["call"]))
            return row.outcome if row else ""

        wait.until(lambda _d: hub.records.flush() or outcome() == "callback")
    finally:
        hub.settings = hub.settings.model_copy(update={"ice_policy": "all"})


async def _until(cond: Any) -> bool:
    for _ in range(int(WAIT_S * 20)):
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


def test_transfer_between_agents_in_chromium(site: SimpleNamespace,
                                             make_browser: Callable[..., WebDriver],
                                             tmp_path: Path) -> None:
    amy, abe = make_browser(), make_browser("en")
    sign_in_and_go_on_duty(amy, site.served, "amy")
    sign_in_and_go_on_duty(abe, site.served, "abe")
    term = Terminal(site.served.ws, "DG-T-0003")
    call = answer(amy, site, term, tmp_path)
    WebDriverWait(amy, WAIT_S).until(
        ec.visibility_of_element_located((By.ID, "transfer-to")))
    amy.find_element(By.CSS_SELECTOR, '#transfer-to option[value="abe"]').click()
    amy.find_element(By.ID, "transfer").click()
    to = site.loop.run(term.expect("transferring"))["to"]
    assert to and to != call["agent"]
    # amy's page lets the call go; abe's offers it to him (in English)
    WebDriverWait(amy, WAIT_S).until(ec.invisibility_of_element_located((By.ID, "call")))
    assert amy.execute_script(
        "return document.getElementById('local-video').srcObject === null")
    WebDriverWait(abe, WAIT_S).until(ec.text_to_be_present_in_element(
        (By.ID, "notice"), "A call was passed to you"))
    again = answer(abe, site, term, tmp_path, "07-transferred-en", cid=call["call"])
    assert again["agent"] == to
    site.loop.run(term.screen({**CHOICE, "image": screen_jpeg()}))
    WebDriverWait(abe, WAIT_S).until(ec.text_to_be_present_in_element(
        (By.ID, "step-title"), "请选择证明的时间段"))
    shot(abe, tmp_path, "08-in-call-en")
    abe.find_element(By.ID, "end-unresolved").click()
    assert site.loop.run(term.expect("ended")) == {"type": "ended", "reason": "agent"}
    site.loop.run(term.close())
    site.served.hub.records.flush()
    with site.sessions() as db:
        row = db.scalar(select(AssistCall).where(AssistCall.id == call["call"]))
    assert row is not None and (row.agents, row.agent, row.outcome) == (
        ["amy", "abe"], "abe", "unresolved")


def test_dropped_link_gets_a_new_connection_in_chromium(site: SimpleNamespace,
                                                       browser: WebDriver,
                                                       tmp_path: Path) -> None:
    hub = site.served.hub
    hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": WAIT_S})
    try:
        wait = WebDriverWait(browser, WAIT_S)
        sign_in_and_go_on_duty(browser, site.served)
        term = Terminal(site.served.ws)
        call = answer(browser, site, term, tmp_path)
        first = browser.execute_script(
            "return document.getElementById('remote-video').srcObject.id")
        site.loop.run(term.drop())
        # the terminal comes back on a new socket with the same call, and offers anew
        site.loop.run(term.open())
        site.loop.run(term.send({"type": "call", "call": call["call"], "service": "",
                                 "service_title": "", "lang": "zh_CN"}))
        again = site.loop.run(term.expect("answered"))
        site.loop.run(term.media(again, restart=True))
        wait.until(lambda d: d.execute_script(
            "const v = document.getElementById('remote-video');"
            "return v.srcObject && v.srcObject.id !== arguments[0] && v.videoWidth > 0",
            first))
        assert not browser.find_element(By.ID, "call").get_attribute("hidden")
        browser.find_element(By.ID, "end-resolved").click()
        assert site.loop.run(term.expect("ended")) == {"type": "ended", "reason": "agent"}
        site.loop.run(term.close())
    finally:
        hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": 0})


def test_agent_reloads_the_page_mid_call_and_keeps_it(site: SimpleNamespace,
                                                      browser: WebDriver,
                                                      tmp_path: Path) -> None:
    """F5 on the agent's page during a call: the citizen is not dropped. The reloaded page
    gets the call again and the terminal, asked once more, offers a new connection."""
    hub = site.served.hub
    hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": WAIT_S})
    try:
        wait = WebDriverWait(browser, WAIT_S)
        sign_in_and_go_on_duty(browser, site.served)
        term = Terminal(site.served.ws)
        answer(browser, site, term, tmp_path)
        browser.refresh()
        again = site.loop.run(term.expect("answered"))  # not "ended"
        site.loop.run(term.media(again, restart=True))
        wait.until(lambda d: d.execute_script(
            "return document.getElementById('remote-video').videoWidth") > 0)
        assert not browser.find_element(By.ID, "call").get_attribute("hidden")
        shot(browser, tmp_path, "after-reload")
        browser.find_element(By.ID, "end-resolved").click()
        assert site.loop.run(term.expect("ended")) == {"type": "ended", "reason": "agent"}
        site.loop.run(term.close())
    finally:
        hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": 0})
