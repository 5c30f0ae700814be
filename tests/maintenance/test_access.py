"""Who may open maintenance mode, and the audit trail of every step."""

from __future__ import annotations

import json
import threading

import pytest

from kiosk.identity import mask_id_number
from kiosk.maintenance.access import (
    CardEntryError,
    CardHash,
    MaintenanceAccess,
    card_entry,
    parse_card_entries,
)
from synthetic.citizens import BY_KEY, identity_of

PIN = "48151623"


@pytest.fixture
def access(kiosk_config, recorder):  # type: ignore[no-untyped-def]
    cfg = kiosk_config.with_section("maintenance", pin_max_failures=3,
                                    technician_cards=(card_entry(BY_KEY["wang"].id_number),))
    a = MaintenanceAccess(cfg, recorder)
    a.pins.set_pin(PIN)
    return a


def _no_secrets(recorder) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(recorder.items, ensure_ascii=False)
    assert PIN not in text
    for c in BY_KEY.values():
        assert c.id_number not in text and c.name not in text


def test_pin_entry_and_exit_are_audited(access, recorder) -> None:  # type: ignore[no-untyped-def]
    res = access.enter_pin(PIN)
    assert res.granted and access.is_open and res.method == "pin"
    access.action("selftest", device="receipt", ok=True)
    access.leave("leave")
    assert not access.is_open
    assert recorder.events() == ["maintenance.enter", "maintenance.action", "maintenance.exit"]
    assert all(s == "audit" for s, _ in recorder.items)
    exit_ = recorder.last("maintenance.exit")
    assert exit_["reason"] == "leave" and exit_["method"] == "pin" and exit_["duration_s"] >= 0
    assert recorder.last("maintenance.enter")["terminal"] == access.terminal_id
    _no_secrets(recorder)


def test_wrong_pins_are_audited_and_lock(access, recorder) -> None:  # type: ignore[no-untyped-def]
    keys = [access.enter_pin("000000").key for _ in range(4)]
    assert keys == ["maintenance.access.wrong_pin", "maintenance.access.wrong_pin",
                    "maintenance.access.locked", "maintenance.access.locked"]
    reasons = [p["reason"] for s, p in recorder.items]
    assert reasons == ["wrong", "wrong", "locked", "locked"]
    assert recorder.items[0][1]["attempts_left"] == 2
    assert not access.is_open
    assert not access.enter_pin(PIN).granted  # locked even for the right PIN
    _no_secrets(recorder)


def test_technician_card_opens_others_are_refused(access, recorder) -> None:  # type: ignore[no-untyped-def]
    refused = access.enter_card(identity_of(BY_KEY["chen"]))
    assert not refused.granted and refused.key == "maintenance.access.card_refused"
    assert refused.who == mask_id_number(BY_KEY["chen"].id_number)
    granted = access.enter_card(identity_of(BY_KEY["wang"]))
    assert granted.granted and granted.method == "card"
    assert recorder.last("maintenance.enter")["who"] == mask_id_number(BY_KEY["wang"].id_number)
    assert recorder.last("maintenance.card_refused")["reason"] == "not_listed"
    _no_secrets(recorder)


def test_a_masked_lookalike_is_not_a_technician(kiosk_config, recorder) -> None:  # type: ignore[no-untyped-def]
    """Same first and last four digits as the technician, different person: refused."""
    from dataclasses import replace

    tech = BY_KEY["wang"].id_number
    lookalike = tech[:4] + "19700101" + tech[12:]
    assert mask_id_number(lookalike) == mask_id_number(tech) and lookalike != tech
    cfg = kiosk_config.with_section("maintenance", technician_cards=(card_entry(tech),))
    a = MaintenanceAccess(cfg, recorder)
    ident = replace(identity_of(BY_KEY["wang"]), id_number=lookalike)
    assert not a.enter_card(ident).granted


def test_no_technician_cards_configured(kiosk_config, recorder) -> None:  # type: ignore[no-untyped-def]
    a = MaintenanceAccess(kiosk_config, recorder)
    assert not a.enter_card(identity_of(BY_KEY["wang"])).granted
    assert recorder.last("maintenance.card_refused")["reason"] == "no_technician_cards"


def test_card_entries_parse_from_list_or_environment_text() -> None:
    e1, e2 = card_entry("441900199001011234"), card_entry("441900198512123456", "张工")
    assert e1.startswith("4419**********1234 scrypt$") and e2.startswith("张工 scrypt$")
    assert "441900199001011234" not in e1
    parsed = parse_card_entries(f"{e1},{e2}")
    assert [p.label for p in parsed] == ["4419**********1234", "张工"]
    assert parsed[0].matches("441900199001011234") and not parsed[0].matches("441900198512123456")
    assert parsed[1].matches(" 441900198512123456 ".lower())


@pytest.mark.parametrize("bad", ["md5$abc", "scrypt$1$8$1$00$00", "scrypt$16384$8$1$zz$00",
                                 "scrypt$16384$8$1$00$" + "00" * 31,
                                 "scrypt$16385$8$1$00$" + "00" * 32])
def test_bad_card_entries_are_refused(bad: str) -> None:
    with pytest.raises(CardEntryError):
        CardHash.parse(bad)
    assert parse_card_entries([bad]) == []  # skipped (and logged), never a crash


def test_card_entry_refuses_short_numbers() -> None:
    with pytest.raises(CardEntryError):
        card_entry("1234")


def test_sim_card_reader_technician_card(kiosk_config, recorder) -> None:  # type: ignore[no-untyped-def]
    """The card a reader returns (simulated reader) opens maintenance mode."""
    from kiosk.devices.registry import create_device

    cfg = kiosk_config.with_section("maintenance",
                                    technician_cards=[card_entry(BY_KEY["li"].id_number)])
    a = MaintenanceAccess(cfg, recorder)
    reader = create_device("sscard", "sim://?card=li")
    reader.open()
    ident = reader.read_identity(2.0, threading.Event())  # type: ignore[attr-defined]
    assert a.enter_card(ident).granted


def test_audit_failure_does_not_break_access(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    def broken(stream, payload):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    a = MaintenanceAccess(kiosk_config, broken)
    a.pins.set_pin(PIN)
    assert a.enter_pin(PIN).granted
