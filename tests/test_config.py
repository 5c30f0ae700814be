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


# -- schema: every wrong value is refused with file, line, key and reason ------------------
def _problems(tmp_path: Path, text: str | bytes, environ: dict[str, str] | None = None,
              ) -> list[str]:
    f = tmp_path / "k.toml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        load_config(f, environ=environ or {})
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize("value,reason", [
    ('"abc"', 'must be a number, got "abc"'),
    ('"90"', ('must be a number, got "90" — a string, because of the quotes; write it '
             'without them')),
    ("-5", "must be greater than 0, got -5"),
    ("0", "must be greater than 0, got 0"),
    ("nan", "must be a finite number, got nan"),
    ("inf", "must be a finite number, got inf"),
    ("true", "must be a number, got true"),
])
def test_wrong_idle_timeout_is_refused(tmp_path: Path, value: str, reason: str) -> None:
    problems = _problems(tmp_path, f"[terminal]\nid = \"T-1\"\n\n[session]\n"
                                   f"idle_timeout_s = {value}\n")
    assert problems == [f"{tmp_path / 'k.toml'}:5: session.idle_timeout_s: {reason}"]


def test_unknown_key_and_section_with_a_suggestion(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "[session]\nidle_timout_s = 30\n\n[sesion]\nx = 1\n"
                                   "[nonsense]\ny = 2\n")
    f = tmp_path / "k.toml"
    assert problems == [
        f"{f}:2: session.idle_timout_s: unknown key (did you mean 'idle_timeout_s'?)",
        f"{f}:4: [sesion]: unknown section (did you mean 'session'?)",
        f"{f}:6: [nonsense]: unknown section",
    ]


def test_a_key_outside_its_section(tmp_path: Path) -> None:
    assert _problems(tmp_path, "idle_timeout_s = 30\n") == [
        (f"{tmp_path / 'k.toml'}:1: idle_timeout_s: key outside any [section] "
        "(belongs in [session])")]


def test_not_utf8_file_names_the_line(tmp_path: Path) -> None:
    text = '[terminal]\nname = "东莞"\n'.encode("gb18030") + b"\n"
    assert _problems(tmp_path, b"[session]\nidle_timeout_s = 30\n" + text) == [
        f"{tmp_path / 'k.toml'}:4: not UTF-8 text (byte 0xb6); save the file as UTF-8"]


def test_not_toml_names_the_line(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[session]\nidle_timeout_s = 30\ncountdown_s = = 5\n") == [
        f"{tmp_path / 'k.toml'}:3: not valid TOML: Invalid value"]


def test_deeply_nested_toml_is_an_error_not_a_crash(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems == [f"{tmp_path / 'k.toml'}: not valid TOML: nested too deeply"]


@pytest.mark.parametrize("var,value,reason", [
    ("KIOSK_SESSION_IDLE_TIMEOUT_S", "abc", 'must be a number, got "abc"'),
    ("KIOSK_SESSION_IDLE_TIMEOUT_S", "nan", "must be a finite number, got nan"),
    ("KIOSK_SESSION_IDLE_TIMEOUT_S", "-1", "must be greater than 0, got -1.0"),
    ("KIOSK_UI_WIDTH", "1920.5", 'must be a whole number, got "1920.5"'),
    ("KIOSK_UI_FULLSCREEN", "ture", "must be true or false (1/0, yes/no, on/off), got \"ture\""),
    ("KIOSK_PACKAGES_RING", "10", "must be at most 9, got 10"),
])
def test_environment_values_are_parsed_to_the_key_type(tmp_path: Path, var: str, value: str,
                                                       reason: str) -> None:
    key = {"KIOSK_SESSION_IDLE_TIMEOUT_S": "session.idle_timeout_s", "KIOSK_UI_WIDTH": "ui.width",
           "KIOSK_UI_FULLSCREEN": "ui.fullscreen", "KIOSK_PACKAGES_RING": "packages.ring"}[var]
    assert _problems(tmp_path, "", {var: value}) == [f"{var} (environment): {key}: {reason}"]


def test_environment_strings_that_are_numbers_are_fine(tmp_path: Path) -> None:
    f = tmp_path / "k.toml"
    f.write_text("")
    cfg = load_config(f, environ={"KIOSK_SESSION_IDLE_TIMEOUT_S": " 90 ",
                                  "KIOSK_UI_WIDTH": "1080", "KIOSK_UI_VOICE": "off",
                                  "KIOSK_MAINTENANCE_TECHNICIAN_CARDS": "a, b,",
                                  "KIOSK_TERMINAL_SECRET": "not a config key"})
    assert cfg.session.idle_timeout_s == 90.0 and cfg.ui.width == 1080
    assert cfg.ui.voice is False and cfg.maintenance.technician_cards == ("a", "b")


def test_relations_between_keys(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[session]\nidle_timeout_s = 10\ncountdown_s = 15\n") == [
        (f"{tmp_path / 'k.toml'}:3: session.countdown_s: must not exceed "
        "session.idle_timeout_s (15 > 10)")]


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        '[terminal]\nlocale = "fr"\n[backend]\nurl = "ftp://x"\nread_timeout_s = -1\n'
        '[devices]\nreceipt = 9100\n[operations]\nnightly_restart = "25:00"\n',
        {"KIOSK_UI_WIDTH": "wide"})
    f = tmp_path / "k.toml"
    assert problems == [
        'KIOSK_UI_WIDTH (environment): ui.width: must be a whole number, got "wide"',
        f'{f}:2: terminal.locale: must be one of zh_CN, zh_HK, en, got "fr"',
        f'{f}:4: backend.url: must be "embedded" or an http(s):// URL, got "ftp://x"',
        f"{f}:5: backend.read_timeout_s: must be greater than 0, got -1",
        f"{f}:7: devices.receipt: must be a string (in quotes), got 9100",
        (f'{f}:9: operations.nightly_restart: must be "HH:MM" (24-hour clock) or "" to '
        'disable, got "25:00"'),
    ]


def test_defaults_and_shipped_file_pass_the_schema() -> None:
    from kiosk.config import validate_config

    assert validate_config(Config()) == Config()
    with pytest.raises(ConfigError, match=r"session\.idle_timeout_s: must be a number"):
        validate_config(Config().with_section("session", idle_timeout_s="90"))


def test_selftest_checks_the_configuration_before_opening_devices() -> None:
    """A Config built in code gets the same check as a file (kiosk selftest, remote self-
    test): the value that would stop `kiosk demo` fails here instead of passing."""
    from kiosk.maintenance.selftest import run_configured

    bad = Config().with_section("session", idle_timeout_s="90")
    with pytest.raises(ConfigError, match=r'session\.idle_timeout_s: must be a number, got "90"'):
        run_configured(bad.with_section("devices", receipt="sim://"), timeout_s=5)
