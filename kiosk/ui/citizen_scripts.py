"""What the scripted citizen does in each flow (headless demo, end-to-end tests).

A script maps a screen to taps. Keys are tried from the most to the least
specific: `"<step>.<kind>"`, `"<step>"`, `"<kind>"`. A value is a list of taps for
every visit, or a list of such lists: one per visit of that screen (the last one
repeats). `"start"` lists what happens at the home screen before the tile is tapped.

Taps: a button's object name (`action-confirm`, `option-year`), `star:N`, `tag:N`,
and the verbs below (`perform`): `card:KEY` puts a synthetic citizen's ID card on
the simulated reader, `remove_card`, `type:TEXT` presses on-screen keys, `key:NAME`
one key (`key:SWITCH`),
`candidate:词` picks an input-method candidate, `mode:pinyin` puts the keyboard on pinyin,
`field:ID:+N` moves a stepper, `scan:TEXT` presents a code to the simulated scanner,
`sign` signs the signature pad on screen (mouse strokes through the pad's own handlers).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from kiosk.devices.scanner.api import ScriptableScanner
from synthetic.services import appointment_qr

log = logging.getLogger(__name__)

Script = dict[str, Any]
VERIFY_SAMPLE = "http://127.0.0.1/verify/0000-0000-0000"  # a certificate's QR, never issued

FLOW_SCRIPTS: dict[str, Script] = {
    "ss_certificate": {
        "kind.choice": ["option-participation"],
        "period.form": ["action-confirm"],
    },
    "tax_list": {
        "done.info": ["action-done"],
        "mode.choice": ["option-range"],
        "range.form": [["option-preset:last_36"], ["action-confirm"]],
    },
    "no_property": {  # the demo acts for a relative: the platform's code, a signature
        "done.info": ["action-done"],
        "scope.choice": ["option-agent"],
        "spouse.identify": ["card:huang"],
        "principal_how.choice": ["option-code"],
        "principal_code.keyboard": ["type:20261218", "action-confirm"],
        "principal_code.info": ["action-confirm"],
        "agent_sign.signature": ["sign", "action-confirm"],
    },
    "materials_submit": {  # two pages under the document camera: take, add, take, done
        "pages.camera": ["action-take"],
        "pages.preview": [["action-add"], ["action-done"]],
        "done.info": ["action-done"],
    },
    "provident_fund": {
        "start": ["card:ouyang"],
        "done.info": ["action-done"],
        "period.form": ["action-confirm"],
    },
    "queue_ticket": {  # the demo shows the QR path: no card, the phone's appointment code
        "start": ["remove_card"],
        "identify.identify": [f"scan:{appointment_qr('chen')}"],
        "show.info": ["action-done"],
        "show_unprinted.info": ["action-done"],
    },
    "evaluation": {
        "ticket_no.keyboard": ["type:A021", "action-confirm"],
        "result": ["action-done"],
    },
    "service_guide": {
        "browse.choice": [["action-search"], ["option-matter:ss-cert"]],
        "browse.keyboard": ["mode:pinyin", "type:SHEBAO", "candidate:社保", "action-confirm"],
        "detail.info": [["option-section:materials"], ["action-print"]],
        "result": ["action-done"],
    },
    "verify_certificate": {  # a code the platform never issued: the page says so
        "scan.info": [f"scan:{VERIFY_SAMPLE}"],
        "scan.error": ["action-done"],
    },
}


def script_for(flow_id: str, base: Script) -> Script:
    return {**base, **FLOW_SCRIPTS.get(flow_id, {})}


def steps_for(script: Script, name: str, visits: dict[str, int]) -> list[str]:
    """The taps for the screen announced as `<flow>.<step>.<kind>`."""
    parts = name.split(".")
    step, kind = (parts[-2], parts[-1]) if len(parts) >= 3 else ("", parts[-1])
    for key in (f"{step}.{kind}", step, kind):
        if key and key in script:
            value = script[key]
            n = visits.get(key, 0)
            visits[key] = n + 1
            if value and isinstance(value[0], list):
                return list(value[min(n, len(value) - 1)])
            return list(value)
    return []


def _tap(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _key_button(root: QWidget, key: str) -> QPushButton | None:
    QApplication.processEvents()  # keys rebuilt by the previous tap (e.g. 中/EN) get shown
    for b in root.findChildren(QPushButton, "key"):
        if b.property("key") == key and b.isVisible():
            return b
    return None


def _present(win: Any, scanner: Any, code: str, pending: Any, tries: int) -> None:
    """Hold the code to the scanner; like a person, show it again if nothing happens
    (a code shown before the scanner listens is not read)."""
    scanner.scan(code)
    if tries > 1:
        QTimer.singleShot(800, lambda: _present(win, scanner, code, pending, tries - 1)
                          if win.flow_view.pending is pending else None)


def perform(win: Any, step: str) -> bool:
    """Do a verb step; False if `step` is not a verb (then it is a button name)."""
    verb, _, arg = step.partition(":")
    devices = win.runtime.devices
    view = win.flow_view
    if verb == "card":
        devices["idcard"].place_card(arg)
    elif verb == "remove_card":
        devices["idcard"].remove_card()
    elif verb == "scan":
        scanner = devices.get("scanner")
        if not isinstance(scanner, ScriptableScanner):
            log.warning("scripted citizen: no scriptable scanner for %s", step)
        else:
            _present(win, scanner, arg, view.pending, 6)
    elif verb == "type":
        for ch in arg:
            b = _key_button(view, ch.upper()) or _key_button(view, ch)
            if b is None:
                log.warning("scripted citizen: no key %r on %s", ch, win.current_screen)
                return True
            _tap(b)
    elif verb == "mode":  # the keyboard on `arg` (pinyin / letters), switching if needed
        from kiosk.ui.keyboard import OnScreenKeyboard

        for kb in view.findChildren(OnScreenKeyboard):
            if kb.mode != arg:
                b = _key_button(view, "SWITCH")
                if b is not None:
                    _tap(b)
    elif verb == "key":
        b = _key_button(view, arg)
        if b is None:
            log.warning("scripted citizen: no key %r on %s", arg, win.current_screen)
        else:
            _tap(b)
    elif verb == "candidate":
        from kiosk.ui.keyboard import OnScreenKeyboard

        for kb in view.findChildren(OnScreenKeyboard):
            kb.wait_ready(15)
            kb._refresh()
        hits = [b for b in view.findChildren(QPushButton, "candidate") if b.text() == arg]
        if not hits:
            log.warning("scripted citizen: no candidate %r on %s", arg, win.current_screen)
            return True
        _tap(hits[0])
    elif verb == "field":
        fid, _, delta = arg.partition(":")
        n = int(delta or "1")
        b = view.findChild(QPushButton, f"field-{fid}-{'plus' if n > 0 else 'minus'}")
        for _ in range(abs(n)):
            if b is not None and b.isEnabled():
                _tap(b)
    elif verb == "sign":  # sign the pad on screen with real mouse strokes
        from kiosk.ui.signature_pad import SignaturePad, sign_like_a_person

        for pad in view.findChildren(SignaturePad):
            sign_like_a_person(pad)
    else:
        return False
    return True
