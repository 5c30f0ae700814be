"""`kiosk device print-test` and `kiosk device status` against the emulated printer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emulators.escpos_listener import EscposListener
from kiosk.devices.base import DeviceError
from kiosk.devices.registry import create_device


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_print_test_receipt(listener: EscposListener) -> None:
    res = kiosk("device", "print-test", listener.uri, "--json")
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["ok"] and out["kind"] == "receipt"
    job = listener.printer.completed_jobs[0]
    assert any("，" in line and "！" in line for line in job.lines)
    assert job.qr_codes and listener.printer.completed_jobs[0].events[-1].kind == "cut"


def test_print_test_reports_paper_out(listener: EscposListener) -> None:
    listener.printer.set_paper("out")
    res = kiosk("device", "print-test", listener.uri, "--json")
    assert res.returncode == 1 and json.loads(res.stdout)["error_key"] == \
        "device.receipt.paper_out"
    status = json.loads(kiosk("device", "status", listener.uri, "--json").stdout)
    assert status["state"] == "user_error" and "paper_out" in status["details"]


@pytest.mark.parametrize("uri", ["escpos+usb://zz:01", "escpos+tcp://", "escpos+serial://",
                                 "escpos+tcp://h?profile=99mm", "escpos+serial:///dev/x?flow=no"])
def test_bad_uris_are_typed_errors(uri: str) -> None:
    with pytest.raises(DeviceError) as err:
        create_device("receipt", uri)
    assert err.value.key == "device.unsupported_uri"


def test_usb_uri_parses_vid_pid() -> None:
    dev = create_device("receipt", "escpos+usb://04b8:0e15?in_ep=0x81&out_ep=0x02")
    t = dev.transport  # type: ignore[attr-defined]
    assert (t.vid, t.pid, t.in_ep, t.out_ep) == (0x04B8, 0x0E15, 0x81, 0x02)
