"""Import direction between layers (STYLE.md rule 1), checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def files(*parts: str) -> list[Path]:
    return sorted((REPO.joinpath(*parts)).rglob("*.py"))


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for p in paths:
        for mod in imports_of(p):
            if mod.split(".")[0] in forbidden or any(mod.startswith(f + ".") or mod == f
                                                     for f in forbidden):
                bad.append(f"{p.relative_to(REPO)} imports {mod}")
    return bad


def test_only_the_ui_package_imports_qt() -> None:
    non_ui = [p for p in files("kiosk") if "kiosk/ui/" not in p.as_posix()]
    non_ui += files("offline_cache") + files("reference_backend") + files("synthetic")
    assert offenders(non_ui, ("PySide6", "shiboken6")) == []


def test_flows_never_touch_transports_or_widgets() -> None:
    assert offenders(files("kiosk", "flows"),
                     ("PySide6", "serial", "smartcard", "cv2", "escpos", "kiosk.ui")) == []


@pytest.mark.parametrize("package", ["devices", "documents", "backend"])
def test_lower_layers_do_not_import_flows_or_ui(package: str) -> None:
    assert offenders(files("kiosk", package), ("kiosk.flows", "kiosk.ui")) == []


def test_emulators_are_peers_not_our_drivers() -> None:
    assert offenders(files("emulators"), ("kiosk.devices", "kiosk.flows", "kiosk.ui")) == []


def test_offline_cache_knows_nothing_of_qt_or_flows() -> None:
    assert offenders(files("offline_cache"), ("PySide6", "kiosk.ui", "kiosk.flows")) == []
