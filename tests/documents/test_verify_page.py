"""The public verification page in a real Chromium (headless, Debian chromium +
chromedriver): the QR code on the printed certificate leads to it; it shows the document
type, office, date, masked holder and the sealed digest; an uploaded PDF is compared."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from kiosk.documents.sealing import SealedPdf, seal_pdf
from synthetic.citizens import BY_KEY

from .conftest import Platform, render_certificate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 30  # an upper bound for a page on a busy 2-core machine, not a measurement
SHOTS = Path("/tmp/seal-shots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("Chromium and chromedriver are needed (Debian packages chromium and "
                    "chromium-driver; scripts/setup installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=420,1000",  # a phone, scanning
                "--lang=zh-CN", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def sealed(seal_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> tuple[
        dict[str, Any], SealedPdf, Path]:
    record = seal_platform.issue()
    doc = seal_pdf(render_certificate(record), record["verify_code"], seal_platform.client)
    path = tmp_path_factory.mktemp("verify") / "certificate.pdf"
    path.write_bytes(doc.pdf)
    return record, doc, path


def qr_on_paper(pdf: Path) -> set[str]:
    """The QR codes on the pages as a printer would put them on paper (150 dpi)."""
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(pdf.with_suffix(""))],
                   check=True)
    found: set[str] = set()
    for page in sorted(pdf.parent.glob(pdf.stem + "-*.png")):
        img = cv2.imread(str(page))
        assert img is not None
        # the Aruco-based detector: the classic one misses about half of these pages
        ok, values, _, _ = cv2.QRCodeDetectorAruco().detectAndDecodeMulti(img)
        found |= {v for v in values if v} if ok else set()
    return found


def shot(driver: WebDriver, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / name))


def upload(driver: WebDriver, pdf: Path) -> str:
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(pdf))
    driver.find_element(By.ID, "compare").click()  # the answer is a new page
    found = WebDriverWait(driver, WAIT_S).until(
        ec.presence_of_element_located((By.ID, "result")))
    return str(found.text)


def test_qr_on_the_certificate_leads_to_the_verification_page(
        browser: WebDriver, sealed: tuple[dict[str, Any], SealedPdf, Path]) -> None:
    record, doc, pdf = sealed
    (url,) = qr_on_paper(pdf)
    assert url == record["verify_url"]
    browser.get(url)
    facts = browser.find_element(By.ID, "facts").text
    shot(browser, "verify-page.png")
    assert "核验通过" in facts and "已加盖电子印章" in facts
    assert record["verify_code"] in facts
    assert "社会保险参保证明" in facts  # the document type
    assert "东莞市社会保险基金管理中心" in facts  # the issuing office
    assert record["issued_at"] in facts
    c = BY_KEY["chen"]
    assert "陈**" in facts and "4419**********3627" in facts  # masked holder only
    assert c.name not in facts and c.id_number not in facts
    assert browser.find_element(By.ID, "digest").text == doc.digest


def test_uploaded_pdf_is_compared(browser: WebDriver, seal_platform: Platform,
                                  sealed: tuple[dict[str, Any], SealedPdf, Path],
                                  tmp_path: Path) -> None:
    record, _, pdf = sealed
    browser.get(record["verify_url"])
    result = upload(browser, pdf)
    shot(browser, "verify-same.png")
    assert "比对一致" in result, result
    # one byte changed: not that document any more
    data = bytearray(pdf.read_bytes())
    data[data.index(b"ReportLab")] ^= 0x01
    (tmp_path / "changed.pdf").write_bytes(bytes(data))
    browser.get(record["verify_url"])
    result = upload(browser, tmp_path / "changed.pdf")
    shot(browser, "verify-changed.png")
    assert "比对不一致" in result and "盖章后被修改过" in result, result
    # a genuine sealed certificate, but another one: its digest is not this code's
    other = seal_platform.issue()
    other_doc = seal_pdf(render_certificate(other), other["verify_code"], seal_platform.client)
    (tmp_path / "other.pdf").write_bytes(other_doc.pdf)
    browser.get(record["verify_url"])
    result = upload(browser, tmp_path / "other.pdf")
    assert "比对不一致" in result and "不是该验证码对应的证明" in result, result


def test_unknown_code_says_so(browser: WebDriver, seal_platform: Platform) -> None:
    browser.get(seal_platform.backend.url + "/verify")
    browser.find_element(By.NAME, "code").send_keys("0000-0000-0000")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, WAIT_S).until(ec.url_contains("/verify/0000-0000-0000"))
    assert "未找到该证明" in browser.find_element(By.ID, "facts").text
