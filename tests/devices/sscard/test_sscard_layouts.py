"""Every issuer's record layout, end to end through a real pcscd + vsmartcard-vpcd: a
virtual card of each kind (emulators.vpcd_card --layout) answers exactly as such a card
would, 6A83 for a record it does not have. The APDU-level order is in test_sscard_apdu."""

from __future__ import annotations

import threading

import pytest

from emulators.vpcd_card import ATRS
from kiosk.devices.base import DeviceError
from kiosk.devices.interfaces import CardEvent
from kiosk.devices.registry import create_device
from kiosk.devices.sscard.apdu import Layout
from kiosk.devices.sscard.service import PcscSsCardReader
from synthetic.citizens import BY_KEY

E = CardEvent
H = bytes.fromhex
LAYOUTS = {"tag": Layout.TAG_NUMBER, "position": Layout.POSITION,
           "identifier": Layout.IDENTIFIER}
SELECT_EF06 = H("00 A4 02 00 02 EF 06")


@pytest.fixture
def reader(pcscd):  # type: ignore[no-untyped-def]
    dev = create_device("sscard", pcscd.uri + "&slice_ms=100")
    assert isinstance(dev, PcscSsCardReader)
    dev.open()
    yield dev
    dev.close()


def insert(vcard, wait_card_state, pcscd, key: str, layout: str) -> None:  # type: ignore[no-untyped-def]
    vcard.send(f"layout {layout}")
    vcard.send(f"insert {key}")
    assert wait_card_state(pcscd.reader, present=True)


def remove(vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("remove")
    assert wait_card_state(pcscd.reader, present=False)


def read(dev: PcscSsCardReader):  # type: ignore[no-untyped-def]
    events: list[CardEvent] = []
    return dev.read_identity(5, threading.Event(), events.append), events


def ef06_reads(apdus: list[bytes]) -> list[bytes]:
    """The READ RECORD commands (CLA INS P1 P2) sent after EF06 was selected; a resend
    with the Le of a `6C xx` answer counts once."""
    after = apdus[apdus.index(SELECT_EF06) + 1:]
    out: list[bytes] = []
    for a in after:
        if a[1] == 0xB2 and (not out or out[-1] != a[:4]):
            out.append(a[:4])
    return out


@pytest.mark.parametrize("t0", ["on", "off"])
@pytest.mark.parametrize("layout,key", [("tag", "chen"), ("position", "li"),
                                        ("identifier", "wang"), ("position", "ouyang")])
def test_every_issuers_layout_reads_the_same_identity(reader, vcard, wait_card_state, pcscd,  # type: ignore[no-untyped-def]
                                                      layout: str, key: str, t0: str) -> None:
    vcard.send(f"t0 {t0}")
    insert(vcard, wait_card_state, pcscd, key, layout)
    ident, events = read(reader)
    c = BY_KEY[key]
    assert (ident.id_number, ident.name, ident.card_number) == (c.id_number, c.name,
                                                                c.ss_card_no)
    assert ident.gender.value == c.gender and ident.birth_date == c.birth
    assert ident.extra["spec_version"] == "3.00"
    assert events == [E.WAITING, E.PRESENT, E.READING, E.READ]
    assert reader.remembered_layout(ATRS[layout], "EF06") is LAYOUTS[layout]


def test_a_card_by_position_is_read_after_6A83_and_goes_straight_there_next_time(  # type: ignore[no-untyped-def]
        reader, vcard, wait_card_state, pcscd) -> None:
    insert(vcard, wait_card_state, pcscd, "li", "position")
    assert read(reader)[0].id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    # The defined order: record 08 by number (6A83), by identifier (6A81: this card
    # does not address records so), then records 1, 2, … by position.
    first = ef06_reads(vcard.apdus())
    assert first[:3] == [H("00 B2 08 04"), H("00 B2 08 00"), H("00 B2 01 04")]
    # six records, and a seventh asked for the optional 4E (name extension): 6A83, the end
    assert first[2:] == [H(f"00 B2 {n:02X} 04") for n in range(1, 8)]
    # EF05's tags equal its positions: read by tag number, nothing refused there.
    assert reader.remembered_layout(ATRS["position"], "EF05") is Layout.TAG_NUMBER
    # Taken out and put back: a new insertion, read again, straight by position.
    remove(vcard, wait_card_state, pcscd)
    insert(vcard, wait_card_state, pcscd, "li", "position")
    assert read(reader)[0].id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    assert ef06_reads(vcard.apdus()) == [H(f"00 B2 {n:02X} 04") for n in range(1, 8)]


def test_an_identifier_card_after_a_positional_one(reader, vcard, wait_card_state,  # type: ignore[no-untyped-def]
                                                   pcscd) -> None:
    insert(vcard, wait_card_state, pcscd, "li", "position")
    read(reader)
    remove(vcard, wait_card_state, pcscd)
    insert(vcard, wait_card_state, pcscd, "chen", "identifier")
    assert read(reader)[0].id_number == BY_KEY["chen"].id_number  # type: ignore[attr-defined]
    reads = ef06_reads(vcard.apdus())
    assert reads[:2] == [H("00 B2 08 04"), H("00 B2 08 00")]  # 6A81, then by identifier
    assert reads[2:] == [H(f"00 B2 {t:02X} 00") for t in (0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D)]
    assert reader.remembered_layout(ATRS["position"], "EF06") is Layout.POSITION


def test_a_card_in_no_known_layout_is_a_clear_error_read_once(reader, vcard,  # type: ignore[no-untyped-def]
                                                              wait_card_state, pcscd,
                                                              caplog) -> None:
    insert(vcard, wait_card_state, pcscd, "chen", "none")
    events: list[CardEvent] = []
    with pytest.raises(DeviceError) as exc:
        reader.read_identity(5, threading.Event(), events.append)
    err = exc.value
    assert err.key == "sscard.unsupported_card" and not err.retryable
    assert "EF05: records in no known layout" in err.detail
    for layout in ("tag_number: record 01 SW 6A83", "identifier: record 01 SW 6A83",
                   "position: record 1 SW 6A83"):
        assert layout in err.detail
    assert events == [E.WAITING, E.PRESENT, E.READING, E.FAILED]
    assert "Traceback" not in caplog.text
    # One read per insertion: the same card is not tried again, it must be taken out.
    with pytest.raises(DeviceError) as again:
        reader.read_identity(0.3, threading.Event())
    assert again.value.key == "sscard.remove_card"
