from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Config, ConfigError, load_config


def test_defaults_without_any_file(tmp_path: Path) -> None:
    empty = tmp_path / "k.toml"
    empty.write_text("")
    cfg = load_config(empty, environ={})
    assert cfg == Config()
    assert cfg.backend.url == "embedded"
    assert cfg.devices.idcard.startswith("sim://")


def test_file_then_environment_override(tmp_path: Path) -> None:
    f = tmp_path / "k.toml"
    f.write_text('[terminal]\nid = "DG-T-9"\n[session]\nidle_timeout_s = 30\n'
                 '[devices]\nreceipt = "escpos+tcp://10.0.0.5:9100"\n', encoding="utf-8")
    cfg = load_config(f, environ={"KIOSK_SESSION_IDLE_TIMEOUT_S": "45",
                                  "KIOSK_UI_FULLSCREEN": "false"})
    assert cfg.terminal.id == "DG-T-9"
    assert cfg.devices.receipt == "escpos+tcp://10.0.0.5:9100"
    assert cfg.session.idle_timeout_s == 45.0
    assert cfg.ui.fullscreen is False


def test_config_from_env_var_path(tmp_path: Path) -> None:
    f = tmp_path / "k.toml"
    f.write_text('[terminal]\nid = "FROM-ENV"\n')
    assert load_config(None, environ={"KIOSK_CONFIG": str(f)}).terminal.id == "FROM-ENV"


@pytest.mark.parametrize("text,needle", [
    ("[nonsense]\nx = 1\n", "unknown section"),
    ("[terminal]\nidd = 1\n", "unknown key"),
    ("[terminal\n", "k.toml"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "k.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(f, environ={})


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_shipped_config_file_loads() -> None:
    cfg = load_config(Path(__file__).resolve().parent.parent / "config" / "kiosk.toml",
                      environ={})
    assert cfg.terminal.id
