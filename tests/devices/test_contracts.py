"""Every registered driver and simulator keeps its kind's contract (`<kind>/api.py`).

The check compares member names AND signatures with the Protocol, so a driver that
lacks a method, renames a parameter, changes a default or a return type fails here
(and is refused by `create_device` on a terminal) instead of in front of a citizen.
Device URIs refuse query parameters their driver does not know.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kiosk.devices.base import Device, DeviceError, DeviceState, DeviceStatus, PrintOutcome
from kiosk.devices.contracts import protocol_members, violations
from kiosk.devices.receipt.model import Receipt
from kiosk.devices.registry import CONTRACTS, FACTORIES, create_device, driver_class

REPO = Path(__file__).resolve().parents[2]

# One URI per registered (kind, scheme): the driver is created, never opened.
SAMPLES = {
    ("idcard", "sim"): "sim://?card=chen",
    ("idcard", "sam+serial"): "sam+serial:///dev/ttyUSB0?baud=115200",
    ("sscard", "sim"): "sim://?card=li",
    ("sscard", "pcsc"): "pcsc://?reader=ACS",
    ("receipt", "sim"): "sim://?paper=ok",
    ("receipt", "escpos+tcp"): "escpos+tcp://127.0.0.1:9100",
    ("receipt", "escpos+serial"): "escpos+serial:///dev/ttyS1?baud=19200",
    ("receipt", "escpos+usb"): "escpos+usb://04b8:0e15",
    ("a4", "sim"): "sim://",
    ("a4", "cups"): "cups://Kiosk_A4",
    ("a4", "ipp"): "ipp://127.0.0.1:8631/ipp/print",
    ("scanner", "sim"): "sim://",
    ("scanner", "qr+serial"): "qr+serial:///dev/ttyACM0?suffix=CR",
    ("camera", "sim"): "sim://?fps=5",
    ("camera", "opencv"): "opencv://0",
    ("doccam", "sim"): "sim://?scenes=hard",
    ("doccam", "opencv"): "opencv://1",
    ("doccam", "seq"): "seq:///tmp/pages",
    ("microphone", "sim"): "sim://?tone_hz=440",
    ("microphone", "alsa"): "alsa://default",
    ("speaker", "sim"): "sim://",
    ("speaker", "alsa"): "alsa://default",
}
REGISTERED = sorted((k, s) for k, schemes in FACTORIES.items() for s in schemes)


def test_every_registered_driver_has_a_sample() -> None:
    assert sorted(SAMPLES) == REGISTERED  # a new driver gets checked too


@pytest.mark.parametrize("kind,scheme", REGISTERED, ids=[f"{k}-{s}" for k, s in REGISTERED])
def test_driver_keeps_its_kinds_contract(kind: str, scheme: str) -> None:
    cls = driver_class(kind, scheme)
    proto = CONTRACTS[kind]
    dev = create_device(kind, SAMPLES[(kind, scheme)])
    assert type(dev) is cls
    assert violations(cls, proto, dev) == []
    assert isinstance(dev, proto)
    assert cls.accepted_params(scheme) is not None, f"{cls.__name__} declares no URI parameters"


def test_the_contracts_cover_the_outer_shape_and_the_typed_api() -> None:
    names = {k: set(protocol_members(p)) for k, p in CONTRACTS.items()}
    shape = {"kind", "uri", "open", "close", "status", "capabilities", "self_test", "reset"}
    assert all(shape <= n for n in names.values())
    assert {"read_identity"} <= names["idcard"] and {"read_identity"} <= names["sscard"]
    assert {"print_receipt", "columns", "encode"} <= names["receipt"]
    assert {"print_pdf"} <= names["a4"]
    assert {"read_code", "subscribe"} <= names["scanner"]
    assert {"wait_frame", "subscribe", "latest"} <= names["camera"]


# -- the check can fail: drivers broken on purpose ------------------------------------------
class _Printer(Device):
    kind = "receipt"
    uri_params = frozenset()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.ONLINE)

    @property
    def columns(self) -> int:
        return 48

    def encode(self, receipt: Receipt) -> bytes:
        return b""

    def print_raw(self, data: bytes) -> PrintOutcome:
        return PrintOutcome(True)


class NoPrintReceipt(_Printer):
    pass


class RenamedParameter(_Printer):
    def print_receipt(self, doc: Receipt) -> PrintOutcome:
        return PrintOutcome(True)


class WrongReturn(_Printer):
    def print_receipt(self, receipt: Receipt) -> bool:
        return True


class ExtraRequired(_Printer):
    def print_receipt(self, receipt: Receipt, copies: int) -> PrintOutcome:
        return PrintOutcome(True)


class GoodPrinter(_Printer):
    def print_receipt(self, receipt: Receipt, copies: int = 1) -> PrintOutcome:  # extra, optional
        return PrintOutcome(True)


class SlowA4(Device):
    kind = "a4"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.ONLINE)

    def print_pdf(self, pdf: bytes, title: str, timeout: float = 30.0) -> PrintOutcome:
        return PrintOutcome(True)


@pytest.mark.parametrize("cls,kind,problem", [
    (NoPrintReceipt, "receipt", "print_receipt: missing"),
    (RenamedParameter, "receipt", ("print_receipt: parameter 1 must be receipt (positional or "
                                   "keyword), is doc (positional or keyword)")),
    (WrongReturn, "receipt", "print_receipt: returns bool, contract says PrintOutcome"),
    (ExtraRequired, "receipt", "print_receipt: extra parameter copies without a default"),
    (SlowA4, "a4", "print_pdf(timeout): default 30.0, contract says 120.0"),
])
def test_a_broken_driver_is_named_and_refused(cls: type, kind: str, problem: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert problem in violations(cls, CONTRACTS[kind]), violations(cls, CONTRACTS[kind])
    # registered like a third-party driver: create_device refuses it with the reason
    monkeypatch.setitem(FACTORIES[kind], "broken", f"{__name__}:{cls.__name__}")
    with pytest.raises(DeviceError) as err:
        create_device(kind, "broken://")
    assert err.value.key == "device.unsupported_uri" and problem in err.value.detail
    assert not isinstance(create_device("receipt", "sim://"), cls)


def test_a_compatible_extension_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert violations(GoodPrinter, CONTRACTS["receipt"]) == []
    monkeypatch.setitem(FACTORIES["receipt"], "good", f"{__name__}:GoodPrinter")
    assert isinstance(create_device("receipt", "good://"), GoodPrinter)


# -- URI parameters ----------------------------------------------------------------------
@pytest.mark.parametrize("kind,uri,bad,suggestion", [
    ("idcard", "sam+serial:///dev/ttyUSB0?buad=115200", "buad", "baud"),
    ("idcard", "sim://?crad=chen", "crad", "card"),
    ("sscard", "pcsc://?raeder=ACS", "raeder", "reader"),
    ("sscard", "sim://?card=li&delay=5", "delay", "delay_ms"),
    ("receipt", "escpos+tcp://127.0.0.1:9100?profil=58mm", "profil", "profile"),
    ("receipt", "escpos+tcp://127.0.0.1:9100?baud=9600", "baud", None),  # a serial option
    ("receipt", "sim://?papper=out", "papper", "paper"),
    ("a4", "ipp://127.0.0.1:8631/ipp/print?timout=5", "timout", "timeout"),
    ("a4", "cups://Kiosk_A4?sever=/run/cups/cups.sock", "sever", "server"),
    ("a4", "sim://?meda=jam", "meda", "media"),
    ("scanner", "qr+serial:///dev/ttyACM0?sufix=CR", "sufix", "suffix"),
    ("scanner", "sim://?code=X&dedupe_ms=100", "dedupe_ms", "dedup_ms"),
    ("camera", "opencv://0?fsp=30", "fsp", "fps"),
    ("camera", "opencv://0?colour=1", "colour", None),
    ("camera", "sim://?szie=64x48", "szie", "size"),
])
def test_an_unknown_parameter_is_refused_by_name(kind: str, uri: str, bad: str,
                                                 suggestion: str | None) -> None:
    with pytest.raises(DeviceError) as err:
        create_device(kind, uri)
    assert err.value.key == "device.unknown_parameter" and not err.value.retryable
    scheme = uri.split("://")[0]
    expected = sorted(driver_class(kind, scheme).accepted_params(scheme) or ())
    assert err.value.detail.startswith(
        f"unknown parameter {bad!r} for {scheme} (expected: {', '.join(expected)})")
    if suggestion:
        assert err.value.detail.endswith(f"; did you mean {suggestion!r}?")
    else:
        assert "did you mean" not in err.value.detail


def test_the_message_names_what_was_expected() -> None:
    with pytest.raises(DeviceError) as err:
        create_device("idcard", "sam+serial:///dev/ttyUSB0?buad=115200")
    assert str(err.value) == (
        "device.unknown_parameter: unknown parameter 'buad' for sam+serial (expected: baud, "
        "fingerprint, gap_ms, poll_ms, read_reply_ms, reply_ms, wlt, wlt_api, wlt_symbol); "
        "did you mean 'baud'?")


def test_the_message_has_a_translation() -> None:
    for locale in ("zh_CN", "zh_HK", "en"):
        strings = json.loads((REPO / "kiosk" / "locale" / f"{locale}.json").read_text("utf-8"))
        assert strings.get("device.unknown_parameter"), locale


def _documented_uris() -> list[tuple[str, str]]:
    """Device URIs of README.md's table and the demo config, with their kind."""
    out = []
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme.split("Devices are chosen by URI", 1)[1].split("```")[1]
    for line in table.strip().splitlines():
        kind, *uris = line.split()
        out += [(kind, u) for u in uris]
    config = (REPO / "config" / "kiosk.toml").read_text("utf-8").split("[devices]", 1)[1]
    for kind, uri in re.findall(r'^(\w+) = "([^"]+)"', config.split("\n[", 1)[0], re.MULTILINE):
        out.append((kind, uri))
    return out


@pytest.mark.parametrize("kind,uri", _documented_uris())
def test_documented_uris_are_accepted(kind: str, uri: str) -> None:
    scheme = uri.split("://")[0]
    cls = driver_class(kind, scheme)
    accepted = cls.accepted_params(scheme)
    assert accepted is not None
    from kiosk.devices.base import DeviceUri

    DeviceUri.parse(uri, accepted)  # raises on an unknown parameter


def test_a_placeholder_keeps_only_the_outer_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """`none://` stands for a kind the terminal has not fitted: created, never used."""
    from kiosk.devices.scanner.api import CodeScanner

    monkeypatch.setitem(FACTORIES["scanner"], "none", "kiosk.devices.none:AbsentDevice")
    dev = create_device("scanner", "none://")
    assert dev.status().state is DeviceState.NO_DEVICE and not isinstance(dev, CodeScanner)
    with pytest.raises(DeviceError, match="unknown parameter 'x' for none"):
        create_device("scanner", "none://?x=1")
