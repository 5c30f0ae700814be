"""Self-tests: in process and `kiosk selftest` from a shell, sims and a real TCP printer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from emulators.escpos_listener import EscposListener
from kiosk.devices.base import Device, DeviceState, DeviceStatus, DeviceUri, SelfTestReport
from kiosk.maintenance.selftest import Verdict, run_all, run_configured


def kiosk_cmd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def none_scheme(monkeypatch):  # type: ignore[no-untyped-def]
    """`none://`: a kind this terminal has not fitted (AbsentDevice)."""
    from kiosk.devices.registry import FACTORIES

    monkeypatch.setitem(FACTORIES["scanner"], "none", "kiosk.devices.none:AbsentDevice")


def test_configured_sims_pass_and_absent_kinds_are_not_failures(kiosk_config, none_scheme) -> None:  # type: ignore[no-untyped-def]
    run = run_configured(kiosk_config.with_section("devices", scanner="none://"))
    assert run.passed
    verdicts = {r.kind: r.verdict for r in run.results}
    assert verdicts["receipt"] is Verdict.PASS and verdicts["scanner"] is Verdict.NOT_FITTED
    assert "all devices passed" in run.render()


def test_a_failing_device_fails_the_run(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    run = run_configured(kiosk_config.with_section("devices", receipt="sim://?cover=open",
                                                   a4="nonsense://x"))
    assert not run.passed
    receipt, a4 = run.result("receipt"), run.result("a4")
    assert receipt is not None and receipt.verdict is Verdict.FAIL
    assert a4 is not None and a4.verdict is Verdict.FAIL
    assert "device.unsupported_uri" in a4.checks[0].detail
    text = run.render()
    assert "FAIL  receipt" in text and "2 device(s) failed" in text


class SlowSelfTest(Device):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def status(self) -> DeviceStatus:
        return DeviceStatus(DeviceState.ONLINE)

    def self_test(self) -> SelfTestReport:
        time.sleep(5)
        return SelfTestReport("x", "", True)


def test_a_hanging_self_test_times_out() -> None:
    run = run_all({"receipt": SlowSelfTest(DeviceUri.parse("x://"))}, timeout_s=0.2)
    r = run.result("receipt")
    assert r is not None and r.verdict is Verdict.FAIL and r.checks[0].name == "timeout"


def test_real_escpos_printer_over_tcp(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    with EscposListener() as listener:
        cfg = kiosk_config.with_section("devices", receipt=listener.uri + "?status_timeout=1")
        ok = run_configured(cfg, only={"receipt"})
        assert ok.passed, ok.render()
        listener.printer.set_cover(True)
        bad = run_configured(cfg, only={"receipt"})
        assert not bad.passed and "cover_open" in bad.render()
    gone = run_configured(cfg, only={"receipt"})  # nobody listens any more
    assert not gone.passed


def test_cli_with_the_demo_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"KIOSK_STORAGE_DATA_DIR": str(tmp_path)}
    out = kiosk_cmd("selftest", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS  receipt" in out.stdout and "all devices passed" in out.stdout
    js = kiosk_cmd("selftest", "--json", env=env)
    data = json.loads(js.stdout)
    assert data["passed"] is True and {d["kind"] for d in data["devices"]} >= {"idcard", "a4"}


def test_cli_exits_nonzero_when_a_device_fails(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[devices]\nreceipt = "sim://?paper=out"\na4 = "sim://"\n'
                   'idcard = "sim://"\nsscard = ""\nscanner = ""\ncamera = ""\n'
                   'microphone = ""\nspeaker = ""\n')
    out = kiosk_cmd("selftest", "--config", str(cfg), "--json",
                    env={"KIOSK_STORAGE_DATA_DIR": str(tmp_path)})
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert [d["kind"] for d in data["devices"]] == ["idcard", "receipt", "a4"]
    assert [d["passed"] for d in data["devices"]] == [True, False, True]


@pytest.mark.parametrize("args", [["selftest", "--config", "/nonexistent.toml"]])
def test_cli_bad_config_is_a_clear_error(args: list[str]) -> None:
    out = kiosk_cmd(*args)
    assert out.returncode != 0 and "config file not found" in (out.stderr + out.stdout)
