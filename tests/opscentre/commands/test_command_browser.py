"""Remote commands in a real Chromium (Debian's chromium + chromedriver, Selenium,
headless): an operator takes a screenshot of a terminal from its page and sees it, puts the
terminal out of service (confirmed in the browser's dialog; pending while a citizen is at
the terminal, with its time limit, updated live) and back in service, and reads the
commands list. The console is served by uvicorn over the centre's database; the commands
go through the real broker to a simulated terminal and back through the real ingest.
Page screenshots go to the test's tmp dir and to /tmp/ops-shots (or $OPS_SHOTS_DIR)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
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
from sqlalchemy import func, select

from opscentre import auth
from opscentre.db import make_engine, make_sessionmaker
from opscentre.models import Terminal
from opscentre.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "operator-pass-1234"
WAIT_S = 30  # an upper bound on a busy 2-core machine, not a measurement
SHOTS = Path(os.environ.get("OPS_SHOTS_DIR") or "/tmp/ops-shots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(centre: Any, sim_fleet: Any) -> Iterator[tuple[str, str]]:
    """The console on uvicorn, one simulated terminal that is 'in a session' when a
    disruptive command comes (it waits a few seconds); (console URL, terminal id)."""
    fleet = sim_fleet(1, [centre.key.private.public_key()], session_share=1.0,
                      session_s=(6.0, 6.0), ids=[f"DG-{os.getpid() % 10000:04d}-B"])
    [tid] = fleet.links
    with centre.sessions() as db:
        auth.add_user(db, "otto", "operator", PASSWORD, by="test")
    deadline = time.monotonic() + WAIT_S
    while True:
        with centre.sessions() as db:
            if db.scalar(select(func.count()).select_from(Terminal).where(
                    Terminal.id == tid, Terminal.online.is_(True))):
                break
        assert time.monotonic() < deadline, "the terminal never showed online"
        time.sleep(0.05)
    reader = make_engine(centre.url)
    app = create_app(make_sessionmaker(reader))
    app.state.commands = centre.service
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", tid
    server.should_exit = True
    thread.join(WAIT_S)
    reader.dispose()


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
    """A PNG of the whole page (DevTools' capture beyond the viewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000),
            "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / path.name)
    return path


def _state(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "command-state").get_attribute("data-state"))


def test_an_operator_commands_a_terminal_in_the_browser(served: tuple[str, str],
                                                        browser: WebDriver,
                                                        tmp_path: Path) -> None:
    url, tid = served
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(f"{url}/terminals/{tid}")
    wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
    browser.find_element(By.ID, "name").send_keys("otto")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "commands-panel")))

    # a screenshot: the command's page follows it live until the picture is shown
    browser.find_element(By.ID, "send-screenshot").click()
    wait.until(ec.url_contains("/commands/"))
    img = wait.until(ec.presence_of_element_located((By.ID, "screenshot")))
    wait.until(lambda d: d.execute_script(
        "const i = document.getElementById('screenshot');"
        "return i && i.complete && i.naturalWidth === 360 && i.naturalHeight === 640"))
    assert _state(browser) == "done" and img.is_displayed()
    assert browser.find_element(By.ID, "audit-actor").text == "otto"
    shot(browser, tmp_path, "command-screenshot")

    # out of service: the browser asks first; the terminal waits for its citizen
    browser.get(f"{url}/terminals/{tid}")
    message = browser.find_element(By.ID, "msg-en")
    message.clear()
    message.send_keys("Closed for maintenance, back at 14:00")
    browser.find_element(By.ID, "send-out_of_service").click()
    wait.until(ec.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(ec.url_contains("/commands/"))
    wait.until(lambda d: _state(d) == "pending")
    pending = browser.find_element(By.ID, "command-state").text
    assert pending == "等待中 — 等待市民办理结束"
    assert "剩余" in browser.find_element(By.ID, "time-limit").text
    shot(browser, tmp_path, "command-pending")

    # the list shows it pending with its time limit, then done without a reload
    browser.get(f"{url}/commands")
    row = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#commands tr[data-state='pending']")))
    assert "等待市民办理结束" in row.text and "剩余" in row.text
    shot(browser, tmp_path, "commands-pending")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#commands tr[data-state='done']")
               and not d.find_elements(By.CSS_SELECTOR, "#commands tr[data-state='pending']"))

    # back in service (no confirmation needed), then the terminal's own list
    browser.get(f"{url}/terminals/{tid}")
    browser.find_element(By.ID, "send-in_service").click()
    wait.until(ec.url_contains("/commands/"))
    wait.until(lambda d: _state(d) == "done")
    browser.get(f"{url}/commands")
    wait.until(ec.presence_of_element_located((By.ID, "commands")))
    states = browser.execute_script(
        "return [...document.querySelectorAll('#commands tbody tr')].map(r => r.dataset.state)")
    assert states == ["done", "done", "done"]
    assert browser.find_element(By.ID, "nav-commands").get_attribute("class") == "here"
    shot(browser, tmp_path, "commands")
    browser.get(f"{url}/terminals/{tid}")
    wait.until(ec.presence_of_element_located((By.ID, "terminal-commands")))
    shot(browser, tmp_path, "terminal-commands")
