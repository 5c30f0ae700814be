"""`kiosk maintenance …` from a shell: set-pin, card-entry, health, export-logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from kiosk.config import Config
from kiosk.maintenance.access import CardHash
from kiosk.maintenance.pin import PinStore


def kiosk(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KIOSK_STORAGE_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def test_set_pin(tmp_path: Path) -> None:
    refused = kiosk(tmp_path, "maintenance", "set-pin", "--stdin", stdin="123456\n")
    assert refused.returncode == 2 and "密码过于简单" in refused.stderr
    ok = kiosk(tmp_path, "maintenance", "set-pin", "--stdin", stdin="48151623\n")
    assert ok.returncode == 0, ok.stderr
    assert "48151623" not in ok.stdout + ok.stderr
    store = PinStore(tmp_path / "data" / "maintenance")
    assert store.verify("48151623").ok and not store.verify("48151624").ok


def test_card_entry(tmp_path: Path) -> None:
    out = kiosk(tmp_path, "maintenance", "card-entry", "--stdin", stdin="441900199001011234\n")
    assert out.returncode == 0
    entry = json.loads(out.stdout.splitlines()[-1])
    assert "441900199001011234" not in out.stdout
    assert CardHash.parse(entry).matches("441900199001011234")
    assert kiosk(tmp_path, "maintenance", "card-entry", "--stdin", stdin="12\n").returncode == 2


def test_health_json_and_exit_status(tmp_path: Path) -> None:
    out = kiosk(tmp_path, "maintenance", "health", "--json")
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert {d["kind"] for d in snap["devices"]} >= {"idcard", "receipt", "a4"}
    cfg = tmp_path / "k.toml"
    cfg.write_text('[devices]\nreceipt = "sim://?paper=out"\n')
    bad = kiosk(tmp_path, "maintenance", "health", "--config", str(cfg))
    assert bad.returncode == 1 and "✘ 故障  凭条打印机" in bad.stdout


def test_health_is_a_readable_report(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text('[devices]\nreceipt = "sim://?paper=out"\na4 = "sim://?media=low"\n'
                   'scanner = "sim://"\n')
    out = kiosk(tmp_path, "--log-level", "ERROR", "maintenance", "health", "--config", str(cfg))
    text = out.stdout
    lines = text.splitlines()
    # One line per device with its state and details, translated.
    assert any("凭条打印机" in line and "需要处理" in line and "缺纸" in line for line in lines)
    assert any("A4 打印机" in line and "纸将用尽" in line and "⚠" in line for line in lines)
    assert any("扫码器" in line and "已读码 0 次" in line for line in lines)
    assert "耗材：凭条纸 已用尽 · A4 纸 将用尽" in text
    assert "离线队列：" in text and "业务包：当前 builtin@" in text
    assert "1 台设备有故障：凭条打印机" in text
    # No Python reprs and no untranslated labels or raw keys.
    for repr_bit in ("{'", "['", "None", "True", "False", "reads:", "maintenance.", "technician."):
        assert repr_bit not in text, repr_bit
    en = kiosk(tmp_path, "--log-level", "ERROR", "--lang", "en", "maintenance", "health",
               "--config", str(cfg)).stdout
    assert "Consumables: receipt paper out · A4 paper low" in en and "✘ FAULT" in en
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en)


def test_export_logs(tmp_path: Path) -> None:
    logs = Config().with_section("storage", data_dir=str(tmp_path / "data")).data_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "kiosk.log").write_text("x 441900199001011234\n")
    out = kiosk(tmp_path, "maintenance", "export-logs", str(tmp_path / "usb"))
    assert out.returncode == 0, out.stderr
    (zip_path,) = (tmp_path / "usb").glob("kiosk-logs-*.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.read("logs/kiosk.log").decode() == "x 4419**********1234\n"
