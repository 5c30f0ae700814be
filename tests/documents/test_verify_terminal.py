"""The terminal's 'verify a certificate' service (flow `verify_certificate` of the built-in
package): the QR code of a sealed certificate scanned (simulated scanner presenting the
code the page's QR holds), the platform's facts shown; a code that is not a
certificate's, and one the platform never issued."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.devices.registry import create_device
from kiosk.documents.sealing import seal_pdf
from kiosk.flows.context import FlowContext, FlowResult
from kiosk.flows.engine import FlowEngine
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.package import load_package
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.flows.steps.verify_certificate import certificate_code
from kiosk.session import Session

from .conftest import TERMINAL, Platform, render_certificate


def run(platform: Platform, scanned: str, answer: Any) -> tuple[FlowResult, list[Screen]]:
    pkg = load_package(BUILTIN_DIR)
    session = Session()
    ui = ScriptedInteraction(session.cancel, answer)
    # the simulator presents `scanned` by itself once the step starts reading
    scanner = create_device("scanner", f"sim://?code={quote(scanned, safe='')}&delay_ms=50")
    scanner.open()
    try:
        ctx = FlowContext(pkg.flows["verify_certificate"], pkg, session, ui,
                          {"scanner": scanner}, platform.client, terminal={"id": TERMINAL})
        return FlowEngine().run(ctx), ui.screens
    finally:
        scanner.close()


def rows(screen: Screen) -> dict[str, str]:
    return {str(k): str(v) for k, v in screen.rows}


def test_scanned_certificate_shows_what_the_platform_issued(seal_platform: Platform) -> None:
    record = seal_platform.issue()
    seal_pdf(render_certificate(record), record["verify_code"], seal_platform.client)
    shown: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.rows:  # the result
            shown.append(s)
            return Response("done")
        return None  # the scan screen stays up: the scanner answers

    result, _ = run(seal_platform, record["verify_url"], answer)
    assert result.outcome == "completed", result
    (facts,) = shown
    assert facts.kind is ScreenKind.INFO and "已加盖电子印章" in facts.title
    got = rows(facts)
    assert got["验证码"] == record["verify_code"] and got["文件类型"] == "社会保险参保证明"
    assert got["出具单位"] == "东莞市社会保险基金管理中心"
    assert got["持有人"] == "陈**（4419**********3627）" and got["电子印章"] == "已加盖"


def test_unknown_code_says_the_paper_is_not_valid(seal_platform: Platform) -> None:
    shown: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.rows:
            shown.append(s)
            return Response("done")
        return None

    result, _ = run(seal_platform, seal_platform.backend.url + "/verify/0000-0000-0000", answer)
    assert result.outcome == "completed", result
    assert shown[0].kind is ScreenKind.ERROR and shown[0].title == "未找到该证明"
    assert "不能作为有效证明使用" in shown[0].text


def test_code_that_is_not_a_certificates_is_refused_on_the_spot(
        seal_platform: Platform) -> None:
    def answer(s: Screen) -> Response | None:
        return Response("cancel") if s.hint else None  # cancel once told

    result, screens = run(seal_platform, "GJZW:APPT:ABCDEFGH1234", answer)
    assert result.outcome == "cancelled", result
    assert screens[-1].hint == "这不是证明上的核验二维码，请扫描证明左下角的二维码。"


@pytest.mark.parametrize(("scanned", "code"), [
    ("http://127.0.0.1:8700/verify/AB12-CD34-EF56", "AB12-CD34-EF56"),
    ("https://zwfw.dg.example/verify/AB12-CD34-EF56", "AB12-CD34-EF56"),
    ("AB12-CD34-EF56", "AB12-CD34-EF56"),
    ("http://x/verify/AB12-CD34-EF56/../admin", ""),
    ("GJZW:ID:ABCDEFGH", ""),
    ("", ""),
])
def test_certificate_code(scanned: str, code: str) -> None:
    assert certificate_code(scanned) == code
