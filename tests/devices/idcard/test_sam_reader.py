"""End to end through a pseudo-terminal: our pyserial driver against the SAM emulator."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from emulators.sam_emulator import FIND, READ_BASE, READ_FULL, SELECT, STATUS, SamEmulator
from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.devices.idcard.api import CardEvent, IdCardReader
from kiosk.devices.idcard.service import SamIdCardReader
from kiosk.identity import IdentitySource
from synthetic.cards import CARDS

E = CardEvent


def read(reader: SamIdCardReader, timeout: float = 2.0,
         cancel: threading.Event | None = None) -> tuple[object, list[CardEvent]]:
    events: list[CardEvent] = []
    return reader.read_identity(timeout, cancel or threading.Event(), events.append), events


def read_error(reader: SamIdCardReader, timeout: float = 2.0) -> tuple[DeviceError,
                                                                        list[CardEvent]]:
    events: list[CardEvent] = []
    with pytest.raises(DeviceError) as exc:
        reader.read_identity(timeout, threading.Event(), events.append)
    return exc.value, events


@pytest.mark.parametrize("key", ["chen", "li", "wang", "lam", "smith", "tanaka"])
def test_reads_every_card_type(sam: SamEmulator, reader: SamIdCardReader, key: str) -> None:
    sam.place(key)
    ident, events = read(reader)
    card = CARDS[key]
    assert isinstance(reader, IdCardReader)
    assert ident.source is IdentitySource.ID_CARD  # type: ignore[attr-defined]
    assert ident.id_number == card.number  # type: ignore[attr-defined]
    assert ident.name == (card.name or card.english_name)  # type: ignore[attr-defined]
    assert ident.valid_to == card.valid_to and ident.birth_date == card.birth  # type: ignore[attr-defined]
    assert ident.english_name == card.english_name  # type: ignore[attr-defined]
    assert ident.nationality == card.nationality  # type: ignore[attr-defined]
    assert ident.pass_number == card.pass_number  # type: ignore[attr-defined]
    assert ident.photo_format == "wlt" and len(ident.photo) == 1024  # type: ignore[attr-defined]
    assert events == [E.WAITING, E.PRESENT, E.READING, E.READ]
    # find -> select -> read, after the status check at open
    assert sam.received == [STATUS, FIND, SELECT, READ_BASE]


def test_long_term_card_and_kind(sam: SamEmulator, reader: SamIdCardReader) -> None:
    sam.place("li")  # 长期
    ident, _ = read(reader)
    assert ident.valid_to is None and ident.card_kind == "resident"  # type: ignore[attr-defined]


def test_polls_until_a_card_is_placed(sam: SamEmulator, reader: SamIdCardReader) -> None:
    def place_after_a_few_polls() -> None:
        while sam.received.count(FIND) < 4:
            time.sleep(0.005)
        sam.place("wang")

    threading.Thread(target=place_after_a_few_polls, daemon=True).start()
    ident, events = read(reader, timeout=10)
    assert ident.id_number == CARDS["wang"].number  # type: ignore[attr-defined]
    assert sam.received.count(FIND) >= 5
    assert events == [E.WAITING, E.PRESENT, E.READING, E.READ]


def test_no_card_until_the_timeout(sam: SamEmulator, reader: SamIdCardReader) -> None:
    err, events = read_error(reader, timeout=0.15)
    assert err.key == "idcard.no_card" and err.retryable
    assert events == [E.WAITING, E.FAILED]
    assert sam.received.count(FIND) >= 2 and SELECT not in sam.received


def test_cancel_while_waiting(sam: SamEmulator, reader: SamIdCardReader) -> None:
    cancel = threading.Event()

    def on_event(ev: CardEvent) -> None:
        if ev is E.WAITING:
            cancel.set()

    with pytest.raises(Cancelled):
        reader.read_identity(10, cancel, on_event)


def test_card_pulled_mid_read_then_placed_again(sam: SamEmulator,
                                               reader: SamIdCardReader) -> None:
    sam.place("chen")
    sam.pull_mid_read()
    err, events = read_error(reader)
    assert err.key == "idcard.card_moved" and err.retryable
    assert events == [E.WAITING, E.PRESENT, E.READING, E.REMOVED, E.FAILED]
    assert reader.status().details == frozenset()
    sam.place("chen")
    ident, events = read(reader)
    assert ident.id_number == CARDS["chen"].number  # type: ignore[attr-defined]


def test_card_lifted_between_reads_reports_removed(sam: SamEmulator,
                                                   reader: SamIdCardReader) -> None:
    sam.place("chen")
    read(reader)
    sam.remove()
    err, events = read_error(reader, timeout=0.1)
    assert events == [E.WAITING, E.REMOVED, E.FAILED] and err.key == "idcard.no_card"


# Every SW3 failure the module can send, on the command that sends it.
SW3_PATHS = [
    (FIND, 0x60, "idcard.sam_fault", False),
    (FIND, 0x66, "idcard.sam_unauthorised", False),
    (FIND, 0x23, "idcard.reader_error", False),
    (SELECT, 0x81, "idcard.card_moved", True),
    (SELECT, 0x40, "idcard.unsupported_card", True),
    (READ_BASE, 0x41, "idcard.read_failed", True),
    (READ_BASE, 0x31, "idcard.replace_card", True),
    (READ_BASE, 0x32, "idcard.replace_card", True),
    (READ_BASE, 0x33, "idcard.replace_card", True),
    (READ_BASE, 0x47, "idcard.replace_card", True),
    (READ_BASE, 0x40, "idcard.unsupported_card", True),
    (READ_BASE, 0x91, "idcard.item_absent", True),
    (READ_BASE, 0x60, "idcard.sam_fault", False),
    (READ_BASE, 0x66, "idcard.sam_unauthorised", False),
    (READ_BASE, 0x77, "idcard.reader_error", False),
]


@pytest.mark.parametrize("command,sw3,key,retryable", SW3_PATHS,
                         ids=[f"{c[0]:02X}{c[1]:02X}-{s:02X}" for c, s, _, _ in SW3_PATHS])
def test_sw3_error_paths(sam: SamEmulator, reader: SamIdCardReader, command: tuple[int, int],
                         sw3: int, key: str, retryable: bool) -> None:
    sam.place("chen")
    sam.fail(sw3, command)
    err, events = read_error(reader)
    assert (err.key, err.retryable) == (key, retryable)
    assert f"{sw3:02X}" in err.detail and events[-1] is E.FAILED
    # The citizen places the card again (or the fault clears): the next read works.
    ident, _ = read(reader)
    assert ident.id_number == CARDS["chen"].number  # type: ignore[attr-defined]


@pytest.mark.parametrize("sw3", [0x10, 0x11, 0x21, 0x24])
def test_line_errors_are_resent_transparently(sam: SamEmulator, reader: SamIdCardReader,
                                              sw3: int) -> None:
    sam.place("chen")
    sam.fail(sw3, READ_BASE)
    ident, events = read(reader)
    assert ident.id_number == CARDS["chen"].number  # type: ignore[attr-defined]
    assert sam.received.count(READ_BASE) == 2 and events[-1] is E.READ


def test_persistent_line_errors_give_up_with_reader_error(sam: SamEmulator,
                                                          reader: SamIdCardReader) -> None:
    sam.place("chen")
    sam.fail(0x24, FIND, times=3)
    err, _ = read_error(reader)
    assert err.key == "idcard.reader_error" and err.retryable


def test_wrong_checksum_once_is_resent(sam: SamEmulator, reader: SamIdCardReader) -> None:
    sam.place("lam")
    sam.corrupt(1)
    ident, _ = read(reader)
    assert ident.card_kind == "hmt_residence_permit"  # type: ignore[attr-defined]
    assert reader.transport.frame_errors == 1
    assert sam.received.count(FIND) == 2


def test_wrong_checksum_on_the_big_read_reply_is_resent(sam: SamEmulator,
                                                        reader: SamIdCardReader) -> None:
    sam.place("chen")
    sam.corrupt(1, READ_BASE)
    ident, _ = read(reader)
    assert ident.id_number == CARDS["chen"].number  # type: ignore[attr-defined]
    assert sam.received.count(READ_BASE) == 2 and reader.transport.frame_errors == 1


def test_wrong_checksum_every_time_is_a_reader_error(sam: SamEmulator,
                                                     reader: SamIdCardReader) -> None:
    sam.place("chen")
    sam.corrupt(3)
    err, _ = read_error(reader)
    assert err.key == "idcard.reader_error" and "checksum" in err.detail
    assert reader.self_test().checks[-1].passed is False  # the line check shows it


def test_garbage_before_replies_is_skipped(sam: SamEmulator, reader: SamIdCardReader) -> None:
    sam.place("smith")
    sam.garbage(os.urandom(40) + b"\xaa\xaa\xaa\x96")
    ident, _ = read(reader)
    assert ident.card_kind == "foreign_permanent_2017"  # type: ignore[attr-defined]
    assert reader.transport.noise_bytes == 40 + 4  # the noise and the broken preamble


def test_garbage_instead_of_a_reply_is_resent(sam: SamEmulator, reader: SamIdCardReader) -> None:
    sam.place("tanaka")
    sam.noise_instead_of_reply(2)
    ident, _ = read(reader)
    assert ident.card_kind == "foreign_permanent_2023"  # type: ignore[attr-defined]
    assert sam.received.count(FIND) == 3


def test_silent_module_is_offline_and_recovers(sam: SamEmulator,
                                               reader: SamIdCardReader) -> None:
    sam.place("chen")
    sam.silent = True
    err, _ = read_error(reader)
    assert err.key == "device.idcard.offline" and not err.retryable
    assert reader.status().state is DeviceState.NO_DEVICE
    sam.silent = False
    assert reader.status().state is DeviceState.ONLINE
    ident, _ = read(reader)
    assert ident.id_number == CARDS["chen"].number  # type: ignore[attr-defined]


def test_unplug_and_replug_on_the_same_port_name(tmp_path, make_reader) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / "ttyIDCARD"
    first = SamEmulator(card="chen").start()
    link.symlink_to(first.port)
    reader = make_reader(str(link))
    assert read(reader)[0].id_number == CARDS["chen"].number  # type: ignore[attr-defined]
    first.stop()  # unplugged: the pty's master end is gone
    err, _ = read_error(reader)
    assert err.key == "device.idcard.offline"
    assert reader.status().state is DeviceState.NO_DEVICE
    second = SamEmulator(card="wang").start()  # plugged back: a new tty behind the same name
    try:
        link.unlink()
        link.symlink_to(second.port)
        assert reader.status().state is DeviceState.ONLINE
        assert read(reader)[0].id_number == CARDS["wang"].number  # type: ignore[attr-defined]
    finally:
        second.stop()


def test_open_checks_the_sam(sam: SamEmulator, make_reader) -> None:  # type: ignore[no-untyped-def]
    sam.fail(0x66, STATUS, times=2)
    with pytest.raises(DeviceError) as exc:
        make_reader(sam.port)
    assert exc.value.key == "idcard.sam_unauthorised" and not exc.value.retryable
    reader = make_reader(sam.port, open_=False)
    reader._opened = True  # as after a failed open: status keeps probing
    assert reader.status().state is DeviceState.HARDWARE_ERROR
    assert reader.status().state is DeviceState.ONLINE  # authorised again


def test_open_on_a_missing_port_is_offline(make_reader) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeviceError) as exc:
        make_reader("/dev/does-not-exist-ttyUSB9")
    assert exc.value.key == "device.idcard.offline"


def test_full_read_with_fingerprint(make_reader) -> None:  # type: ignore[no-untyped-def]
    with SamEmulator(card="ouyang", fingerprint=1024) as emu:
        reader = make_reader(emu.port, "&fingerprint=1")
        ident, _ = read(reader)
        assert ident.extra["fingerprint_bytes"] == 1024  # type: ignore[attr-defined]
        assert READ_FULL in emu.received and READ_BASE not in emu.received
        assert reader.capabilities()["fingerprint"] is True


def test_reset_sam_id_and_self_test(sam: SamEmulator, reader: SamIdCardReader) -> None:
    reader.reset()
    assert (0x10, 0xFF) in sam.received
    assert reader.sam_id() == "0501000420160823000000000a1b2c3d"
    report = reader.self_test()
    assert report.passed and [c.name for c in report.checks] == [
        "sam_status", "sam_id", "photo_decoder", "line"]


def test_status_reports_card_present_after_a_find(sam: SamEmulator,
                                                  reader: SamIdCardReader) -> None:
    assert reader.status().details == frozenset()
    sam.place("chen")
    read(reader)
    assert "card_present" in reader.status().details


def test_busy_while_reading(sam: SamEmulator, reader: SamIdCardReader) -> None:
    seen: list[DeviceState] = []

    def on_event(ev: CardEvent) -> None:
        if ev is E.WAITING:
            seen.append(reader_status_from_other_thread())

    def reader_status_from_other_thread() -> DeviceState:
        out: list[DeviceState] = []
        th = threading.Thread(target=lambda: out.append(reader.status().state))
        th.start()
        th.join()
        return out[0]

    sam.place("chen")
    reader.read_identity(2, threading.Event(), on_event)
    assert seen == [DeviceState.BUSY]


def test_no_personal_data_in_logs(sam: SamEmulator, reader: SamIdCardReader,
                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for key in ("chen", "lam"):
        sam.place(key)
        sam.corrupt(1)
        read(reader)
    text = caplog.text
    for key in ("chen", "lam"):
        assert CARDS[key].number not in text and CARDS[key].name not in text
    assert "resident" in text  # the log does say what happened
