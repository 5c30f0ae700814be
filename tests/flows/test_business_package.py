"""The built-in business flows load; a broken form step is rejected with its location."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.flows.model import DefinitionError
from kiosk.flows.package import load_package

FLOWS = ["ss_certificate", "tax_list", "no_property", "provident_fund", "queue_ticket",
         "evaluation", "service_guide", "gz_fund_deposit", "verify_certificate"]


@pytest.fixture
def pkg_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR, dst)
    return dst


def test_every_business_flow_is_in_the_catalog() -> None:
    pkg = load_package(BUILTIN_DIR)
    assert [f.id for f in pkg.catalog()] == FLOWS
    for locale in ("zh_CN", "zh_HK", "en"):
        t = pkg.translator(locale)
        for fid in FLOWS:
            flow = pkg.flows[fid]
            assert t(flow.title) != flow.title and t(flow.subtitle) != flow.subtitle
    assert {f.id for f in pkg.catalog() if not f.requires_online} == {"evaluation",
                                                                      "service_guide"}
    assert "qr" in pkg.flows["queue_ticket"].identify_methods


def test_every_flow_string_is_translated() -> None:
    pkg = load_package(BUILTIN_DIR)
    zh = set(pkg.strings["zh_CN"])
    for locale in ("zh_HK", "en"):
        missing = sorted(k for k in zh if k.startswith("flow.") and k not in pkg.strings[locale])
        assert missing == [], locale


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("flow,old,new,where,problem", [
    ("queue_ticket", 'outcome = "on_time" }', 'outcome = "teleport" }', "steps[2].cases[0].outcome",
     "no transition"),
    ("queue_ticket", 'path = "checkin.status", equals = "early"',
     'path = "checkin.status", resembles = "early"', "steps[2].cases[1].when",
     "exactly one test"),
    ("tax_list", 'presets = ["last_3"', 'presets = ["last_300"', "steps[5].presets[0]",
     "unknown preset"),
    ("tax_list", 'mode = "year"', 'mode = "decade"', "steps[4].mode", "must be"),
    ("no_property", 'label = "flow.no_property.scope.self"', 'label = "flow.nope"',
     "steps[2].options[0].label", "missing in zh_CN"),
    ("no_property", 'store_as = "spouse"', 'store_as = "identity"', "steps[3].store_as",
     "must not replace"),
    # the identity view masks: a request must ask for the real number explicitly
    ("ss_certificate", '"{identity.full.id_number}"', '"{identity.id_number}"',
     "steps[2].request",
     "{identity.id_number} is masked; the platform needs {identity.full.id_number}"),
    ("no_property", '"{spouse.full.id_number}"', '"{spouse.id_number}"', "steps[5].request",
     "{spouse.id_number} is masked"),
    ("evaluation", 'pattern = "^[A-Z][0-9]{3}$"', 'pattern = "^[A-Z"', "steps[0].pattern",
     "not a valid pattern"),
    ("service_guide", 'actions = [\n  { id = "back"', 'actions = [\n  { id = "elsewhere"',
     "steps[1].actions[0].id", "no transition"),
])
def test_broken_form_steps_are_rejected(pkg_copy: Path, flow: str, old: str, new: str,
                                        where: str, problem: str) -> None:
    _edit(pkg_copy / "flows" / f"{flow}.toml", old, new)
    with pytest.raises(DefinitionError) as err:
        load_package(pkg_copy)
    assert err.value.file == f"flows/{flow}.toml"
    assert err.value.path == where
    assert problem in err.value.problem
