"""亲友代办: an agent gets 无房证明 for a relative through the real widgets, against the
reference platform over HTTP. The principal is named by an authorisation code (wrong and
expired codes refused with a clear message, three tries) or identifies with their own ID
card; the agent signs on the pad; the platform records the agency with the signature; the
certificate names both and carries the signature as vector paths."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import requests

from kiosk.ui.citizen import DEFAULT_SCRIPT, ScriptedCitizen
from kiosk.ui.citizen_scripts import script_for
from kiosk.ui.layout_check import layout_problems
from synthetic.citizens import BY_KEY

from .conftest import flat, needs_poppler, pdf_pages

CHEN, HUANG = BY_KEY["chen"], BY_KEY["huang"]  # the agent at the terminal, the principal
BY_CODE = {"scope.choice": ["option-agent"], "principal_how.choice": ["option-code"],
           "principal_code.info": ["action-confirm"],
           "agent_sign.signature": ["sign", "action-confirm"]}


def agencies(backend: Any) -> list[dict[str, Any]]:
    r = requests.get(f"{backend.url}/_admin/authorisation/agencies",
                     headers={"X-Admin-Token": backend.admin_token}, timeout=5)
    r.raise_for_status()
    return list(r.json())


def signature_ink(pdf: bytes, tmp_path: Path) -> tuple[int, int]:
    """Dark pixels inside the signature box, and on the same line left of its label (the
    box is the 70 x 24 mm area right of the label "代办人签名：", found with pdftotext
    -bbox)."""
    from PIL import Image

    path = tmp_path / "agent.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    m = re.search(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                  r"代办人签名：", html)
    assert m, "no signature label on the certificate"
    x_min, x_max = float(m.group(1)), float(m.group(3))
    y_mid = (float(m.group(2)) + float(m.group(4))) / 2
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(path), str(tmp_path / "agent")], check=True)
    img = Image.open(tmp_path / "agent.png").convert("L")
    mm = 72 / 25.4

    def dark(x0: float, x1: float) -> int:
        n = 0
        for x in range(round(x0), round(x1)):
            for y in range(round(y_mid - 10 * mm), round(y_mid + 10 * mm)):
                px = img.getpixel((x, y))
                n += isinstance(px, (int, float)) and px < 120
        return n

    box = x_max + 4 * mm
    return dark(box + 2, box + 70 * mm - 2), dark(x_min - 40 * mm, x_min - 2)


@needs_poppler
def test_acting_by_authorisation_code_after_a_wrong_and_an_expired_code(  # type: ignore[no-untyped-def]
        backend, business_runtime, drive, tmp_path) -> None:
    rt = business_runtime()
    before = len(agencies(backend))
    visit = drive(rt, "no_property", script={**BY_CODE, "principal_code.keyboard": [
        ["type:11112222", "action-confirm"], ["type:20240101", "action-confirm"],
        ["type:20261218", "action-confirm"]]})
    assert visit.ok, (visit.names, visit.errors)
    statuses = [s.status for s, _ in visit.shown("principal_code.keyboard") if s is not None]
    assert statuses == ["", "授权码不正确，请核对后重新输入",
                        "该授权码已过期，请委托人重新授权后再办理"]
    (confirm, texts), = visit.shown("principal_code.info")
    assert confirm is not None and ("委托人", "黄**") in confirm.rows
    assert "4419**********4153" in texts and HUANG.id_number not in visit.texts()
    assert HUANG.name not in visit.texts() and CHEN.name not in visit.texts()
    assert visit.shown("agent_sign.signature")

    # The platform recorded who acted for whom, how, and the signature.
    (record,) = agencies(backend)[before:]
    assert record["method"] == "authorisation" and record["reference"].startswith("SQ")
    assert record["principal"] == "4419**********4153"
    assert record["agent"] == "4419**********3627"
    assert record["signature"].count("M") == 3 and record["signature_points"] >= 20

    (_, pdf), = rt.devices["a4"].jobs
    text = flat("".join(pdf_pages(pdf, tmp_path)))
    assert "无房产登记记录证明" in text and "第1页/共1页" in text
    assert f"委托人{HUANG.name}" in text and f"代办人{CHEN.name}" in text
    assert "4419**********4153" in text and "4419**********3627" in text
    assert f"代办登记号{record['id']}" in text
    inside, beside = signature_ink(pdf, tmp_path)
    assert inside > 150 and beside == 0, (inside, beside)


def test_three_wrong_codes_end_the_visit_and_nothing_is_printed(  # type: ignore[no-untyped-def]
        backend, business_runtime, drive) -> None:
    rt = business_runtime()
    before = len(agencies(backend))
    visit = drive(rt, "no_property", script={**BY_CODE, "principal_code.keyboard": [
        ["type:11112222", "action-confirm"], ["type:31415926", "action-confirm"],
        ["type:20240101", "action-confirm"]]})
    assert not visit.ok
    statuses = [s.status for s, _ in visit.shown("principal_code.keyboard") if s is not None]
    assert statuses[1:] == ["授权码不正确，请核对后重新输入",
                            "该授权码不包含本事项，请委托人为本事项授权"]
    (_, texts), = visit.shown(".error")
    assert "授权码多次核验未通过" in texts
    assert not visit.shown("agent_sign.signature")
    assert rt.devices["a4"].jobs == [] and len(agencies(backend)) == before


@needs_poppler
def test_acting_for_a_principal_who_places_their_own_card_in_elder_mode(  # type: ignore[no-untyped-def]
        backend, business_runtime, drive, tmp_path) -> None:
    rt = business_runtime()
    before = len(agencies(backend))
    same = "读到的仍是您本人的证件。请取回证件，由委托人放置其本人身份证"

    problems: dict[str, list[str]] = {}

    def principal_arrives(win: Any, name: str) -> None:
        found = layout_problems(win)
        if found:
            problems[name] = found
        screen = win.flow_view.step_screen
        if name.endswith("principal_card.identify") and screen is not None \
                and screen.status == same:
            rt.devices["idcard"].place_card("huang")

    # In elder mode on a portrait panel: every screen of the path fits.
    visit = drive(rt, "no_property", inspect=principal_arrives, elder=True, size=(1080, 1920),
                  script={"scope.choice": ["option-agent"],
                          "principal_how.choice": ["option-card"],
                          "principal_card.identify": [],
                          "agent_sign.signature": ["sign", "action-confirm"]})
    assert visit.ok, (visit.names, visit.errors)
    assert problems == {}
    (_, texts), = visit.shown("principal_consent.consent")
    assert "请委托人本人阅读" in texts
    (record,) = agencies(backend)[before:]
    assert record["method"] == "id_card" and record["principal"] == "4419**********4153"
    (_, pdf), = rt.devices["a4"].jobs
    text = flat("".join(pdf_pages(pdf, tmp_path)))
    assert f"委托人{HUANG.name}" in text and f"代办人{CHEN.name}" in text
    assert HUANG.id_number not in text and CHEN.id_number not in text


def test_the_code_path_in_english_elder_mode_on_a_portrait_panel_fits(  # type: ignore[no-untyped-def]
        business_runtime, make_window, qtbot) -> None:
    """The demo's path (code, signature) in English, elder mode, 1080 x 1920: every screen
    fits, and the principal's name and the scope are shown as the platform gives them."""
    rt = business_runtime()
    win = make_window(rt, (1080, 1920))
    problems: dict[str, list[str]] = {}
    result: dict[str, bool] = {}

    def look(w: Any, name: str) -> None:
        found = layout_problems(w)
        if found:
            problems[name] = found

    citizen = ScriptedCitizen(win, "no_property", None, lambda ok: result.update(ok=ok),
                              script=script_for("no_property", DEFAULT_SCRIPT), delay_ms=30,
                              inspect=look, locale="en", elder=True)
    win.screenShown.emit(win.current_screen)
    qtbot.waitUntil(lambda: "ok" in result, timeout=60000)
    assert result["ok"], citizen.errors
    assert "no_property.agent_sign.signature" in citizen.seen
    assert problems == {}
