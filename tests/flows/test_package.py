"""Flow definitions are data, validated when loaded (file, path and problem named)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.flows.model import DefinitionError
from kiosk.flows.package import load_package


def test_builtin_package_loads() -> None:
    pkg = load_package(BUILTIN_DIR)
    assert "ss_certificate" in pkg.flows
    flow = pkg.flows["ss_certificate"]
    assert [s.type for s in flow.steps][:3] == ["identify", "consent", "query"]
    assert pkg.catalog()[0].id == "ss_certificate"


@pytest.fixture
def pkg_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR, dst)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old,new,where,problem", [
    ('type = "consent"', 'type = "shell"', "steps[1].type", "unknown step type"),
    ('template = "ss_certificate_a4"', 'template = "missing_tpl"', "steps[7].template",
     "not in package"),
    ('text = "flow.ss_certificate.consent"', 'text = "flow.nope"', "steps[1].text", "missing"),
    ('timeout_s = 90', 'timeout_s = 90\nrm_rf = true', "steps[0].rm_rf", "unknown parameter"),
    ('id = "consent"', 'id = "identify"', "steps[1].id", "duplicate"),
    ('position_of = "preview"', 'position_of = "which"', "steps[8].position_of",
     "not a counted step"),
    ('type = "identify"\nmethods = ["id_card", "ss_card"]',
     'type = "identify"\nmethods = ["retina"]',
     "steps[0].methods[0]",
     "unknown identify method"),
])
def test_bad_flow_is_rejected_with_its_location(pkg_copy: Path, old: str, new: str, where: str,
                                               problem: str) -> None:
    _edit(pkg_copy / "flows" / "ss_certificate.toml", old, new)
    with pytest.raises(DefinitionError) as err:
        load_package(pkg_copy)
    assert err.value.file == "flows/ss_certificate.toml"
    assert err.value.path == where
    assert problem in err.value.problem


def test_broken_toml_and_missing_flow_file(pkg_copy: Path) -> None:
    (pkg_copy / "templates" / "ss_certificate_receipt.toml").write_text("lines = [", "utf-8")
    with pytest.raises(DefinitionError, match=r"templates/ss_certificate_receipt\.toml"):
        load_package(pkg_copy)
    (pkg_copy / "templates" / "ss_certificate_receipt.toml").unlink()
    (pkg_copy / "flows" / "ss_certificate.toml").unlink()
    with pytest.raises(DefinitionError, match="does not exist"):
        load_package(pkg_copy)


def test_assets_cannot_escape_the_package(pkg_copy: Path) -> None:
    pkg = load_package(pkg_copy)
    assert pkg.asset("assets/seal_dg_social_insurance.png").is_file()
    with pytest.raises(DefinitionError):
        pkg.asset("../../etc/passwd")
