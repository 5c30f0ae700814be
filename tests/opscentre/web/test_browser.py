"""The console in a real Chromium (Debian's chromium + chromium-driver, driven by Selenium)
against the console served by uvicorn on 127.0.0.1, with 1,000 terminals put in through
the centre's ingest: log in, the fleet, filter to paper out, one terminal, acknowledge an
alert, switch language, log out. Screenshots go to the test's tmp dir (and, for people to
look at, to $OPS_SHOTS_DIR when set)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fleet_seed import Fleet, seed_fleet
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from opscentre import auth
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.models import Alert
from opscentre.web import create_app
from opscentre.web.models import AuditEntry

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "operator-pass-1234"
WAIT_S = 30  # an upper bound for a page on a busy 2-core machine, not a measurement


@dataclass
class Served:
    url: str
    db: object
    fleet: Fleet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path = tmp_path_factory.mktemp("console") / "centre.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    db = make_sessionmaker(engine)
    with db() as s:
        auth.add_user(s, "otto", "operator", PASSWORD, by="test")
        fleet = seed_fleet(s, 1000)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console did not start")
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", db, fleet)
    server.should_exit = True
    thread.join(WAIT_S)
    engine.dispose()


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
    # the driver given by path: Selenium Manager is never asked to download anything
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, tmp_path: Path, name: str, height: int | None = None) -> Path:
    """A PNG of the page from the top, `height` CSS pixels tall or the whole page (Chrome
    DevTools' capture beyond the viewport: the window keeps its size)."""
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"],
            "height": min(height or size["height"], size["height"], 6000), "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    out = os.environ.get("OPS_SHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out) / path.name)
    return path


def rows(driver: WebDriver) -> list[str]:
    return list(driver.execute_script(
        "return [...document.querySelectorAll('#fleet tbody tr')].map(r => r.dataset.id)"))


def test_an_operator_works_through_the_console(served: Served, browser: WebDriver,
                                              tmp_path: Path) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    fleet = served.fleet

    # a page before login leads to the login form, and back to the page after it
    browser.get(served.url + "/fleet")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    assert "/login?next=" in browser.current_url
    browser.find_element(By.ID, "name").send_keys("otto")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login-submit").click()
    assert "用户名或密码错误" in wait.until(
        ec.presence_of_element_located((By.ID, "login-error"))).text
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "fleet")))
    cookie = browser.get_cookie("kops_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie").find("kops_session") < 0

    # the whole fleet
    assert len(rows(browser)) == 1000
    assert browser.find_element(By.ID, "who-name").text == "otto"
    shot(browser, tmp_path, "fleet-all", 1000)

    # filter: paper out (the form's select, then its button)
    Select(browser.find_element(By.ID, "f-paper")).select_by_value("out")
    browser.find_element(By.ID, "apply-filters").click()
    wait.until(ec.url_contains("paper=out"))
    assert "status=" not in browser.current_url  # empty filters are not sent
    shown = rows(browser)
    assert sorted(shown) == sorted(fleet.paper_out) and fleet.history in shown
    pills = browser.execute_script(
        "return [...document.querySelectorAll('#fleet tbody tr')]"
        ".map(r => r.cells[7].innerText.trim())")
    assert set(pills) == {"无纸"}
    # sort by last seen, newest first, with the column header
    browser.find_element(By.CSS_SELECTOR, 'a.sort[data-sort="last_seen"]').click()
    wait.until(ec.url_contains("sort=last_seen"))
    browser.find_element(By.CSS_SELECTOR, 'a.sort[data-sort="last_seen"]').click()
    wait.until(ec.url_contains("order=desc"))
    assert sorted(rows(browser)) == sorted(fleet.paper_out)
    shot(browser, tmp_path, "fleet-paper-out")

    # one terminal: devices, consumables, the timeline over days, its alerts
    browser.find_element(By.LINK_TEXT, fleet.history).click()
    wait.until(ec.presence_of_element_located((By.ID, "timeline")))
    assert browser.find_element(By.ID, "terminal-id").text == fleet.history
    devices = browser.find_element(By.ID, "devices").text
    assert "凭条打印机" in devices and "硬件故障" in devices and "切刀卡住" in devices
    assert "无纸" in browser.find_element(By.ID, "consumables").text
    drawn = browser.execute_script(
        "const s = document.getElementById('timeline'); const b = s.getBoundingClientRect();"
        "return [s.querySelectorAll('rect').length, b.width, b.height]")
    assert drawn[0] > 100 and drawn[1] > 500 and drawn[2] > 100
    buttons = browser.find_elements(By.CSS_SELECTOR, "button.ack")
    assert buttons, "the terminal has open alerts to acknowledge"
    alert_id = int(buttons[0].get_attribute("data-alert") or 0)
    shot(browser, tmp_path, "terminal-before-ack")

    # acknowledge one: the form posts with its CSRF token and comes back here
    buttons[0].click()
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'tr[data-alert="{alert_id}"].alert-acked')))
    assert fleet.history in browser.current_url
    with served.db() as s:  # type: ignore[operator]
        alert = s.get(Alert, alert_id)
        assert alert is not None and (alert.state, alert.acked_by) == ("acked", "otto")
    shot(browser, tmp_path, "terminal")

    # the same page in English, then back to the fleet
    browser.find_element(By.ID, "lang-switch").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "lang-switch"), "中文"))
    assert "Devices" in browser.page_source and fleet.history in browser.current_url
    shot(browser, tmp_path, "terminal-en")
    browser.get(served.url + "/fleet?fault=any&sort=faults&order=desc")
    wait.until(ec.presence_of_element_located((By.ID, "fleet")))
    assert sorted(rows(browser)) == sorted(fleet.faulty)
    shot(browser, tmp_path, "fleet-en-faults", 1000)
    browser.find_element(By.ID, "lang-switch").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "lang-switch"), "English"))
    browser.get(served.url + "/fleet")
    wait.until(ec.presence_of_element_located((By.ID, "fleet")))
    shot(browser, tmp_path, "fleet", 1000)

    # log out: the session is gone, pages lead to the login again
    browser.find_element(By.ID, "logout").click()
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    assert browser.get_cookie("kops_session") is None
    browser.get(served.url + "/alerts")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    with served.db() as s:  # type: ignore[operator]
        acts = [a for a, in s.execute(select(AuditEntry.action).where(
            AuditEntry.actor.in_(("otto", "")))).all()]
    assert {"login_failed", "login", "alert_acked", "logout"} <= set(acts)
