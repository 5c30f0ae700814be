"""The rollout pages in a real Chromium (Debian's chromium + chromedriver, Selenium,
headless) against the console served by uvicorn: a rollout of dg-extra@1.1.0 to 160
terminals (their reports put in through the centre's ingest) that halted by itself in its
25 % wave. An operator opens it from the list, sees the waves, the rates against their
thresholds and the halt reason, watches a count change without reloading, resumes it and
rolls it back (confirming), and finds both in the history. Screenshot: rollout.png in the
test's tmp dir, /tmp/ops-shots and $OPS_SHOTS_DIR."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from kiosk.packages.rollout import bucket
from opscentre import rollouts
from opscentre.rollouts import StartSpec

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 30  # an upper bound for a page on a busy 2-core machine, not a measurement
IDS = [f"DG-{i:04d}" for i in range(160)]
LAB = ["LAB-0001", "LAB-0002"]
LABEL = "dg-extra@1.1.0"


@dataclass
class Served:
    url: str
    console: Any
    fleet: Any
    rollout: int
    wave2: list[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(console: Any, fleet: Any, ops: Any) -> tuple[int, list[str]]:
    """ring 0 and 5 % went well; in the 25 % wave three terminals rolled back."""
    ops.publish("dg-extra", "1.0.0")
    ops.build("dg-extra", "1.1.0")
    fleet.online(*LAB, *IDS)
    for tid in LAB:
        fleet.health(tid, ["dg-extra@1.0.0"], ring=0)
    for tid in IDS:
        fleet.health(tid, ["dg-extra@1.0.0"])
    publisher = console.publisher
    with console.sessions() as s:
        r = rollouts.start(s, publisher, StartSpec.parse(
            LABEL, ops.settings(), waves="0,5,25,100", soak_s=600,
            archive=ops.inbox / "dg-extra-1.1.0.kpkg"), "otto", "127.0.0.1")

    def run(seconds: float) -> Any:
        with console.sessions() as s:
            out = rollouts.evaluate(s, publisher, fleet.advance(seconds))
            s.commit()
        return out

    def activate(tids: list[str], **health: Any) -> None:
        for tid in tids:
            fleet.package(tid, LABEL, "staged")
            fleet.package(tid, LABEL, "activated")
            fleet.health(tid, [LABEL], **health)

    activate(LAB, ring=0, sessions=12)
    run(1)
    assert run(601).published == [r.id]
    activate([t for t in IDS if bucket(t) < 5], sessions=20, error_screens=0)
    run(1)
    assert run(601).published == [r.id]
    wave2 = [t for t in IDS if 5 <= bucket(t) < 25]
    activate(wave2[:20], sessions=25, error_screens=1)
    for tid in wave2[20:23]:
        fleet.package(tid, LABEL, "staged")
        fleet.package(tid, LABEL, "rolled_back",
                      f"{LABEL}: flow housing_proof: unknown step type 'notarise'")
    for tid in wave2[23:25]:
        fleet.package(tid, LABEL, "staged")
        fleet.package(tid, LABEL, "waiting_for_session", "session_active")
    assert run(1).halted == [r.id]
    return r.id, wave2


@pytest.fixture
def served(make_console: Any, ops_repo: Any, fleet_on: Any) -> Iterator[Served]:
    console = make_console()
    fleet = fleet_on(console.sessions)
    rid, wave2 = _seed(console, fleet, ops_repo)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(console.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console did not start")
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", console, fleet, rid, wave2)
    server.should_exit = True
    thread.join(WAIT_S)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("Chromium and chromedriver are needed (Debian packages chromium and "
                    "chromium-driver; scripts/setup installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1440,1000",
                "--lang=zh-CN", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    """A full-page PNG (DevTools' capture beyond the viewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
            "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    for out in {"/tmp/ops-shots", os.environ.get("OPS_SHOTS_DIR") or "/tmp/ops-shots"}:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out) / path.name)
    return path


def cell(driver: WebDriver, wave: int, column: int) -> str:
    return str(driver.execute_script(
        "return document.querySelector(`#waves tr[data-wave='${arguments[0]}']`)"
        ".cells[arguments[1]].innerText.trim()", wave, column))


def test_an_operator_watches_resumes_and_rolls_back(served: Served, browser: WebDriver,
                                                    tmp_path: Path) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(served.url + "/rollouts")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    browser.find_element(By.ID, "name").send_keys("otto")
    browser.find_element(By.ID, "password").send_keys("operator-pass-1234")
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "rollouts")))
    assert "已暂停" in browser.find_element(By.CSS_SELECTOR,
                                          f'tr[data-rollout="{served.rollout}"]').text
    shot(browser, tmp_path, "rollouts")
    browser.find_element(By.LINK_TEXT, LABEL).click()

    wait.until(ec.presence_of_element_located((By.ID, "waves")))
    state = browser.find_element(By.ID, "rollout-state")
    assert state.get_attribute("data-state") == "halted" and state.text == "已暂停"
    reason = browser.find_element(By.ID, "halt-reason").text
    assert "自动暂停" in reason and "回滚率" in reason and "第 3 批" in reason
    link = browser.find_element(By.CSS_SELECTOR, "#halt-reason a")
    assert link.text == served.wave2[20] and reason.count(served.wave2[20]) == 1
    # the waves: ring 0 and 5 % passed, 25 % current with its rollback rate over 2 %
    assert [cell(browser, w, 1) for w in range(4)] == ["实验室终端（0 环）", "5 %", "25 %",
                                                       "全部终端"]
    assert "通过" in cell(browser, 0, 13) and "通过" in cell(browser, 1, 13)
    assert cell(browser, 3, 2) == "未发布"
    n2 = len(served.wave2)
    assert cell(browser, 2, 3) == str(n2) and cell(browser, 2, 7) == "20"
    over = browser.find_elements(By.CSS_SELECTOR, "#waves tr[data-wave='2'] td.rate.over")
    assert [td.get_attribute("data-rule") for td in over] == ["rolled_back"]
    assert cell(browser, 2, 9).startswith("3 ") and "/ 2 %" in cell(browser, 2, 9)
    assert cell(browser, 2, 10).startswith("20/500")  # error screens / sessions: 4 % < 5 %
    problems = browser.find_elements(By.CSS_SELECTOR, "#problems tbody tr")
    assert [p.get_attribute("data-terminal") for p in problems] == served.wave2[20:23]
    assert "notarise" in problems[0].text
    shot(browser, tmp_path, "rollout")

    # live: a terminal of the wave reports; the table follows without a reload
    browser.execute_script("document.body.dataset.marker = 'same page'")
    served.fleet.package(served.wave2[23], LABEL, "activated")
    wait.until(lambda d: cell(d, 2, 7) == "21")
    assert browser.execute_script("return document.body.dataset.marker") == "same page"

    # resume: the page shows it running, with the history entry
    browser.find_element(By.ID, "resume").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "rollout-state"), "进行中"))
    assert not browser.find_elements(By.ID, "halt-reason")
    assert "重新计算" in browser.find_element(By.ID, "counted-since").text
    # roll back: confirmed in the browser's dialog
    browser.find_element(By.ID, "rollback").click()
    wait.until(ec.alert_is_present()).accept()
    wait.until(ec.text_to_be_present_in_element((By.ID, "rollout-state"), "已回滚"))
    actions = [tr.get_attribute("data-action") for tr in
               browser.find_elements(By.CSS_SELECTOR, "#rollout-history tbody tr")]
    assert actions[:2] == ["rollout_rolled_back", "rollout_resumed"]
    assert actions[-1] == "rollout_started" and "rollout_halted" in actions
    assert not browser.find_elements(By.ID, "rollback")
    assert browser.find_element(By.ID, "finished").text == "此发布已结束。"
    target = served.console.publisher.repo.list_targets()
    assert {tf.custom["version"]: tf.custom.get("replaces") for tf in target.values()} == {
        "1.0.0": ["1.1.0"]}
    shot(browser, tmp_path, "rollout-rolled-back")
