"""End to end through a real pcscd + vsmartcard-vpcd: pyscard against a virtual card process.

The card is a separate process connected to vpcd (conftest.CardProcess). Reader
unplug/replug is pcscd going away (socket gone) and coming back, with and without
the reader configured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from smartcard import scard

from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.devices.registry import create_device
from kiosk.devices.sscard.api import CardEvent
from kiosk.devices.sscard.service import PcscSsCardReader
from kiosk.devices.sscard.transport import FAULTS, Fault, fault_of
from kiosk.identity import IdentitySource
from synthetic.citizens import BY_KEY

E = CardEvent


@pytest.fixture
def reader(pcscd):  # type: ignore[no-untyped-def]
    dev = create_device("sscard", pcscd.uri + "&slice_ms=100")
    assert isinstance(dev, PcscSsCardReader)
    dev.open()
    yield dev
    dev.close()


def insert(vcard, wait_card_state, pcscd, key: str) -> None:  # type: ignore[no-untyped-def]
    vcard.send(f"insert {key}")
    assert wait_card_state(pcscd.reader, present=True)


def remove(vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("remove")
    assert wait_card_state(pcscd.reader, present=False)


def read(dev: PcscSsCardReader, timeout: float = 5.0) -> tuple[object, list[CardEvent]]:
    events: list[CardEvent] = []
    return dev.read_identity(timeout, threading.Event(), events.append), events


def read_error(dev: PcscSsCardReader, timeout: float = 5.0) -> tuple[DeviceError,
                                                                    list[CardEvent]]:
    events: list[CardEvent] = []
    with pytest.raises(DeviceError) as exc:
        dev.read_identity(timeout, threading.Event(), events.append)
    return exc.value, events


def read_acting_on(dev: PcscSsCardReader, event: CardEvent, action: Callable[[], None]
                   ) -> tuple[object, list[CardEvent]]:
    """Read; when the reader reports `event`, the citizen does `action` (own thread)."""
    events: list[CardEvent] = []

    def on_event(ev: CardEvent) -> None:
        events.append(ev)
        if ev is event:
            threading.Thread(target=action, daemon=True).start()

    return dev.read_identity(10, threading.Event(), on_event), events


@pytest.mark.parametrize("code,fault", [
    ("SCARD_W_REMOVED_CARD", Fault.CARD_REMOVED), ("SCARD_E_NO_SMARTCARD", Fault.CARD_REMOVED),
    ("SCARD_W_RESET_CARD", Fault.CARD_REMOVED), ("SCARD_W_UNRESPONSIVE_CARD", Fault.CARD_MUTE),
    ("SCARD_W_UNPOWERED_CARD", Fault.CARD_MUTE), ("SCARD_E_PROTO_MISMATCH", Fault.CARD_MUTE),
    ("SCARD_E_READER_UNAVAILABLE", Fault.READER_GONE),
    ("SCARD_E_UNKNOWN_READER", Fault.READER_GONE),
    ("SCARD_E_NO_READERS_AVAILABLE", Fault.READER_GONE),
    ("SCARD_E_NO_SERVICE", Fault.READER_GONE), ("SCARD_E_SERVICE_STOPPED", Fault.READER_GONE),
    ("SCARD_E_INVALID_HANDLE", Fault.READER_GONE), ("SCARD_F_COMM_ERROR", Fault.READER_GONE),
    ("SCARD_E_TIMEOUT", Fault.TIMEOUT), ("SCARD_E_CANCELLED", Fault.CANCELLED),
    ("SCARD_E_SHARING_VIOLATION", Fault.OTHER), ("SCARD_F_INTERNAL_ERROR", Fault.OTHER),
])
def test_pcsc_error_codes(code: str, fault: Fault) -> None:
    value = getattr(scard, code)
    assert fault_of(value) is fault and fault_of(value & 0xFFFFFFFF) is fault


def test_fault_table_has_no_unknown_names() -> None:
    assert len(FAULTS) == 15


@pytest.mark.parametrize("key", ["li", "chen", "wang", "ouyang"])
def test_reads_each_citizens_card(reader, vcard, wait_card_state, pcscd, key: str) -> None:  # type: ignore[no-untyped-def]
    insert(vcard, wait_card_state, pcscd, key)
    ident, events = read(reader)
    c = BY_KEY[key]
    assert ident.source is IdentitySource.SS_CARD  # type: ignore[attr-defined]
    assert (ident.id_number, ident.name) == (c.id_number, c.name)  # type: ignore[attr-defined]
    assert ident.gender.value == c.gender and ident.birth_date == c.birth  # type: ignore[attr-defined]
    assert ident.ethnicity == c.ethnicity and ident.card_number == c.ss_card_no  # type: ignore[attr-defined]
    assert ident.extra["spec_version"] == "3.00"  # type: ignore[attr-defined]
    assert events == [E.WAITING, E.PRESENT, E.READING, E.READ]
    assert "card_present" in reader.status().details


def test_t1_style_card_without_61xx(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("t0 off")
    insert(vcard, wait_card_state, pcscd, "wang")
    assert read(reader)[0].id_number == BY_KEY["wang"].id_number  # type: ignore[attr-defined]


def test_longer_name_record_goes_through_6Cxx(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("name_len 32")
    insert(vcard, wait_card_state, pcscd, "ouyang")
    assert read(reader)[0].name == "欧阳思远"  # type: ignore[attr-defined]


def test_no_card_until_the_timeout(reader, vcard) -> None:  # type: ignore[no-untyped-def]
    err, events = read_error(reader, timeout=0.3)
    assert err.key == "sscard.no_card" and err.retryable
    assert events == [E.WAITING, E.FAILED]
    assert reader.status().state is DeviceState.ONLINE
    assert reader.status().details == frozenset()


def test_card_inserted_while_waiting(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    def on_event(ev: CardEvent) -> None:
        if ev is E.WAITING:
            threading.Thread(target=vcard.send, args=("insert chen",), daemon=True).start()

    ident = reader.read_identity(10, threading.Event(), on_event)
    assert ident.id_number == BY_KEY["chen"].id_number


def test_cancel_while_waiting(reader, vcard) -> None:  # type: ignore[no-untyped-def]
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        reader.read_identity(10, cancel, lambda ev: cancel.set())


def test_not_a_social_security_card_then_the_right_card(reader, vcard, wait_card_state,  # type: ignore[no-untyped-def]
                                                        pcscd) -> None:
    vcard.send("not_ss on")
    insert(vcard, wait_card_state, pcscd, "li")
    err, events = read_error(reader)
    assert err.key == "sscard.not_ss_card" and err.retryable and "6A82" in err.detail
    assert events == [E.WAITING, E.PRESENT, E.READING, E.FAILED]
    # The same card is still in the slot: no second read of it, the citizen is asked
    # to take it out.
    err, _ = read_error(reader, timeout=0.3)
    assert err.key == "sscard.remove_card"
    remove(vcard, wait_card_state, pcscd)
    vcard.send("not_ss off")
    insert(vcard, wait_card_state, pcscd, "li")
    # Taken out and put back while nobody was reading: PC/SC's event counter tells.
    ident, events = read(reader)
    assert ident.id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    assert events == [E.WAITING, E.PRESENT, E.READING, E.READ]


def test_unusable_card_swapped_during_the_next_read(reader, vcard, wait_card_state,  # type: ignore[no-untyped-def]
                                                    pcscd) -> None:
    vcard.send("not_ss on")
    insert(vcard, wait_card_state, pcscd, "wang")
    read_error(reader)

    def swap() -> None:
        remove(vcard, wait_card_state, pcscd)
        vcard.send("not_ss off")
        vcard.send("insert wang")

    ident, events = read_acting_on(reader, E.TAKE_OUT, swap)
    assert ident.id_number == BY_KEY["wang"].id_number  # type: ignore[attr-defined]
    assert events == [E.TAKE_OUT, E.REMOVED, E.WAITING, E.PRESENT, E.READING, E.READ]


def test_a_card_left_in_the_slot_does_not_identify_the_next_citizen(  # type: ignore[no-untyped-def]
        reader, vcard, wait_card_state, pcscd) -> None:
    insert(vcard, wait_card_state, pcscd, "chen")
    assert read(reader)[0].id_number == BY_KEY["chen"].id_number  # type: ignore[attr-defined]
    # 陈晓梅 walks away without her card; the next citizen starts a flow.
    err, events = read_error(reader, timeout=0.5)
    assert err.key == "sscard.remove_card" and events == [E.TAKE_OUT, E.FAILED]

    def next_citizen() -> None:
        remove(vcard, wait_card_state, pcscd)  # staff or the citizen takes hers out
        vcard.send("insert li")

    ident, events = read_acting_on(reader, E.TAKE_OUT, next_citizen)
    assert ident.id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    assert events == [E.TAKE_OUT, E.REMOVED, E.WAITING, E.PRESENT, E.READING, E.READ]
    # Taken out and put back (the same citizen, a second service): read again.
    remove(vcard, wait_card_state, pcscd)
    insert(vcard, wait_card_state, pcscd, "li")
    assert read(reader)[0].id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]


# Error status words on a given command (CLA INS P1), as the card sends them.
APDU_PATHS = [
    ("00A404", "6A82", "sscard.not_ss_card", True),
    ("00A402", "6A82", "sscard.not_ss_card", True),  # no EF05 in the application
    ("00B208", "6982", "sscard.access_denied", False),
    ("00B209", "6983", "sscard.card_locked", False),
    ("00B207", "6A83", "sscard.invalid_card", False),
    ("00B20D", "6F00", "sscard.card_error", True),
    ("00B201", "6581", "sscard.card_error", True),
    ("00B205", "6700", "sscard.read_failed", True),
    ("00A404", "6D00", "sscard.unsupported_card", True),
]


@pytest.mark.parametrize("prefix,sw,key,retryable", APDU_PATHS,
                         ids=[f"{p}-{s}" for p, s, _, _ in APDU_PATHS])
def test_apdu_error_paths(reader, vcard, wait_card_state, pcscd, prefix: str, sw: str,  # type: ignore[no-untyped-def]
                          key: str, retryable: bool) -> None:
    vcard.send(f"fail {prefix} {sw}")
    insert(vcard, wait_card_state, pcscd, "chen")
    err, events = read_error(reader)
    assert (err.key, err.retryable) == (key, retryable) and sw in err.detail
    assert events[-1] is E.FAILED


def test_optional_records_may_be_missing(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("fail 00B20C 6A83")  # no birthplace on this card
    insert(vcard, wait_card_state, pcscd, "wang")
    ident, _ = read(reader)
    assert ident.extra["birthplace"] == ""  # type: ignore[attr-defined]


def test_garbage_response(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("garbage")
    insert(vcard, wait_card_state, pcscd, "chen")
    err, _ = read_error(reader)
    assert err.key == "sscard.card_error"


def test_card_pulled_mid_read(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    vcard.send("pull_after 5")
    insert(vcard, wait_card_state, pcscd, "chen")
    err, events = read_error(reader)
    assert err.key == "sscard.card_removed" and err.retryable
    assert events == [E.WAITING, E.PRESENT, E.READING, E.REMOVED, E.FAILED]
    assert wait_card_state(pcscd.reader, present=False)
    # Put back: read again from the start.
    insert(vcard, wait_card_state, pcscd, "chen")
    assert read(reader)[0].id_number == BY_KEY["chen"].id_number  # type: ignore[attr-defined]


def test_reader_unplugged_and_plugged_back(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    insert(vcard, wait_card_state, pcscd, "li")
    assert read(reader)[0].id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    try:
        pcscd.stop()  # the whole PC/SC stack is gone
        assert reader.status().state is DeviceState.NO_DEVICE
        err, _ = read_error(reader, timeout=0.3)
        assert err.key == "device.sscard.offline" and not err.retryable
        pcscd.start(with_reader=False)  # pcscd back, reader still unplugged
        assert reader.status().state is DeviceState.NO_DEVICE
        assert not reader.self_test().passed
        pcscd.stop()
        pcscd.start(with_reader=True)  # plugged back in; the card stayed in it
        assert wait_card_state(pcscd.reader, present=True)
        assert reader.status().state is DeviceState.ONLINE
        assert read(reader)[0].id_number == BY_KEY["li"].id_number  # type: ignore[attr-defined]
    finally:
        pcscd.ensure_running()


def test_reader_plugged_in_during_a_read(reader, vcard, wait_card_state, pcscd) -> None:  # type: ignore[no-untyped-def]
    insert(vcard, wait_card_state, pcscd, "wang")
    pcscd.stop()
    try:
        def replug(ev: CardEvent) -> None:
            if ev is E.WAITING:
                threading.Thread(target=pcscd.start, daemon=True).start()

        ident = reader.read_identity(20, threading.Event(), replug)
        assert ident.id_number == BY_KEY["wang"].id_number
    finally:
        pcscd.ensure_running()


def test_open_without_a_matching_reader(pcscd) -> None:  # type: ignore[no-untyped-def]
    dev = create_device("sscard", "pcsc://?reader=NoSuchReader")
    with pytest.raises(DeviceError) as exc:
        dev.open()
    assert exc.value.key == "device.sscard.offline"
    assert dev.status().state is DeviceState.NO_DEVICE
    dev.close()


def test_self_test_and_capabilities(reader, pcscd) -> None:  # type: ignore[no-untyped-def]
    report = reader.self_test()
    assert report.passed and report.checks[1].detail == pcscd.reader
    assert reader.capabilities()["files"] == ["EF05", "EF06"]


def test_no_personal_data_in_logs(reader, vcard, wait_card_state, pcscd, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.DEBUG)
    vcard.send("not_ss on")
    insert(vcard, wait_card_state, pcscd, "chen")
    read_error(reader)
    remove(vcard, wait_card_state, pcscd)
    vcard.send("not_ss off")
    insert(vcard, wait_card_state, pcscd, "chen")
    read(reader)
    c = BY_KEY["chen"]
    assert c.id_number not in caplog.text and c.name not in caplog.text
    assert "sscard read" in caplog.text
