"""What a technician sees when a `kiosk` command meets bad input: a translated message that
says what would have worked, the key for machines, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main
from synthetic.citizens import BY_KEY


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KIOSK_LANG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["--log-level", "WARNING", *argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out, out.err


def test_unknown_synthetic_card_names_the_cards_that_exist(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, "device", "read-id", "sim://?card=bogus")
    assert rc != 0
    assert '模拟读卡器没有名为 "bogus" 的卡' in err
    assert all(key in err for key in ("chen", "li", "wang"))
    rc, out, _ = run(capsys, "device", "read-id", "sim://?card=bogus", "--json")
    info = json.loads(out)
    assert rc == 2 and info["error"] == "device.unknown_card"
    assert info["valid_cards"] == list(BY_KEY)


def test_unsupported_uri_lists_the_schemes_of_the_kind(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, "device", "status", "foo://x")
    assert rc == 2 and out == ""
    assert '不支持的设备地址 "foo://x"：身份证读卡器可用 sim://, sam+serial://' in err
    assert "--kind" in err  # the kind was guessed: say how to choose another
    rc, out, _ = run(capsys, "device", "status", "foo://x", "--kind", "a4", "--json")
    info = json.loads(out)
    assert rc == 2 and info["error"] == "device.unsupported_uri"
    assert info["valid_schemes"] == ["sim://", "cups://", "ipp://"]
    assert "A4 打印机可用 sim://" in info["message"]


def test_languages_follow_lang_and_the_environment(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, _, err = run(capsys, "--lang", "en", "device", "status", "foo://x")
    assert 'Unsupported device address "foo://x"; ID card reader addresses: sim://' in err
    monkeypatch.setenv("KIOSK_LANG", "zh_HK")
    _, _, err = run(capsys, "device", "status", "foo://x")
    assert '不支援的設備地址 "foo://x"：身份證讀卡器可用' in err


def test_unknown_parameter_says_what_is_accepted_and_guesses(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run(capsys, "device", "status", "escpos+tcp://127.0.0.1:9?profle=58mm")
    assert rc == 2
    assert '参数 "profle" 无法识别：凭条打印机（escpos+tcp://）可用参数' in err
    assert '是否应为 "profile"' in err and "[device.unknown_parameter]" in err
    rc, out, _ = run(capsys, "device", "scan", "sim://?cod=X", "--json")
    info = json.loads(out)
    assert rc == 2 and info["error"] == "device.unknown_parameter"
    assert info["did_you_mean"] == "code" and "delay_ms" in info["valid_parameters"]


@pytest.mark.parametrize("argv", [
    ["device", "status", "sim://?delay_ms=abc"],  # a number that is not one
    ["device", "status", "escpos+tcp://127.0.0.1:9?status_timeout=soon"],
    ["device", "status", "ipp://127.0.0.1:9/ipp/print?timeout=x"],
    ["device", "status", "http://[::1"],  # not even a URL
    ["device", "status", "sim://?paper=weird", "--kind", "receipt"],
    ["device", "read-id", "sim://?delay_ms=x"],
    ["device", "camera", "sim://?size=axb"],
])
def test_bad_values_in_uris_are_explained(capsys, argv) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and "[device.unsupported_uri]" in err


def test_a_bad_uri_in_the_configuration_names_the_key(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIOSK_DEVICES_RECEIPT", "sim://?papr=low")
    rc, _, err = run(capsys, "maintenance", "health")
    assert rc == 2 and '参数 "papr" 无法识别' in err and "[devices] receipt" in err


def test_print_test_needs_a_printer_and_a_writable_copy(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run(capsys, "device", "print-test", "sim://")
    assert rc == 2 and "--kind receipt" in err
    rc, _, err = run(capsys, "device", "print-test", "sim://", "--kind", "receipt",
                     "--out", str(tmp_path / "missing" / "x.bin"))
    assert rc == 1 and "无法读写文件" in err and "missing" in err
    rc, out, _ = run(capsys, "device", "print-test", "sim://?paper=out", "--kind", "receipt")
    assert rc == 1 and "凭条打印机缺纸" in out and "[device.receipt.paper_out]" in out


@pytest.mark.parametrize("argv", [["flows", "list", "--json"], ["maintenance", "health"],
                                  ["pack", "status"]])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    """`kiosk flows list --json | head -1`: here the reader has gone before the first write."""
    env = dict(os.environ, KIOSK_STORAGE_DATA_DIR=str(tmp_path / "data"))
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write is EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "kiosk", "--log-level", "WARNING", *argv],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=120, check=False)
    finally:
        os.close(write_end)
    for noise in ("Traceback", "BrokenPipe", "Broken pipe"):
        assert noise not in proc.stderr, proc.stderr
    assert proc.returncode == 141  # as a shell reports a command ended by SIGPIPE
