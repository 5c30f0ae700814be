"""Schema validation names the file, the path inside it and what is wrong; sets overlay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.flows.model import DefinitionError
from kiosk.flows.package import compose, load_package, validate_package
from kiosk.packages.archive import build_archive
from kiosk.packages.ops import check_archive

from .conftest import write_source


def _check(src: Path) -> None:
    check_archive(build_archive(src), src.name)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1), "utf-8")


@pytest.mark.parametrize("old,new,file,path,problem", [
    ('id = "dg-extra"', 'id = "DG Extra!"', "manifest.toml", "id", "lower-case"),
    ('version = "1.0.0"', 'version = "latest"', "manifest.toml", "version", "dotted numeric"),
    ('min_app_version = "0.1.0"', 'min_app_version = "99.0"', "manifest.toml",
     "min_app_version", "needs app 99.0"),
    ('disable = []', 'disable = []\nrun = "setup.sh"', "manifest.toml", "run", "unknown key"),
    ('flows = ["housing_proof"]', 'flows = "housing_proof"', "manifest.toml", "flows",
     "list of flow ids"),
    ('flows = ["housing_proof"]', 'flows = ["housing_proof", "nope"]', "manifest.toml",
     "flows[1]", "flows/nope.toml does not exist"),
])
def test_manifest_errors(tmp_path: Path, old: str, new: str, file: str, path: str,
                         problem: str) -> None:
    src = write_source(tmp_path / "p", "dg-extra", "1.0.0")
    _edit(src / "manifest.toml", old, new)
    with pytest.raises(DefinitionError) as err:
        _check(src)
    assert (err.value.file, err.value.path) == (file, path)
    assert problem in err.value.problem


def test_flow_step_template_and_string_errors_name_the_package(tmp_path: Path) -> None:
    steps = ('[[steps]]\nid = "print"\ntype = "print_receipt"\ntemplate = "no_such_tpl"\n')
    src = write_source(tmp_path / "p", "dg-extra", "1.0.0",
                       flows={"housing_proof": {"steps": steps}})
    with pytest.raises(DefinitionError) as err:
        _check(src)
    assert err.value.file == "dg-extra@1.0.0:flows/housing_proof.toml"
    assert err.value.path == "steps[0].template"
    assert "template 'no_such_tpl' not in package" in err.value.problem

    src2 = write_source(tmp_path / "q", "dg-extra", "1.0.0", flows={"housing_proof": {
        "steps": '[[steps]]\nid = "go"\ntype = "teleport"\n'}})
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.type: unknown step type 'teleport'"):
        _check(src2)


def test_a_package_may_use_builtin_templates(tmp_path: Path) -> None:
    steps = ('[[steps]]\nid = "print"\ntype = "print_receipt"\n'
             'template = "ss_certificate_receipt"\n')
    _check(write_source(tmp_path / "p", "dg-extra", "1.0.0",
                        flows={"housing_proof": {"steps": steps}}))


def test_strings_templates_and_unlisted_files(tmp_path: Path) -> None:
    src = write_source(tmp_path / "p", "dg-extra", "1.0.0")
    (src / "strings" / "en.json").write_text(json.dumps({"only.in.en": "x"}), "utf-8")
    with pytest.raises(DefinitionError) as err:
        _check(src)
    assert (err.value.file, err.value.path) == ("strings/en.json", "only.in.en")
    (src / "strings" / "en.json").write_text(json.dumps({"flow.housing_proof.title": 3}))
    with pytest.raises(DefinitionError, match="must be a string"):
        _check(src)
    (src / "strings" / "en.json").write_text("{}")
    (src / "templates").mkdir()
    (src / "templates" / "slip.toml").write_text('kind = "fax"\n')
    with pytest.raises(DefinitionError) as err:
        _check(src)
    assert (err.value.file, err.value.path) == ("templates/slip.toml", "kind")
    (src / "templates" / "slip.toml").write_text(
        'kind = "receipt"\nlines = [{ type = "image", path = "assets/missing.png" }]\n')
    with pytest.raises(DefinitionError) as err:
        _check(src)
    assert (err.value.file, err.value.path) == ("templates/slip.toml", "assets/missing.png")
    (src / "templates" / "slip.toml").unlink()
    (src / "flows" / "orphan.toml").write_text('id = "orphan"\n')
    with pytest.raises(DefinitionError, match=r"not listed in manifest\.toml"):
        _check(src)


def test_overlay_overrides_and_disables(tmp_path: Path) -> None:
    base = load_package(BUILTIN_DIR, validate_steps=False)
    top = load_package(write_source(
        tmp_path / "p", "dg-extra", "1.0.0", disable=["ss_certificate"],
        strings={"flow.housing_proof.title": "新", "app.title": "莞家政务（测试）"}),
        validate_steps=False)
    pkg = compose([base, top])
    validate_package(pkg)
    assert set(pkg.flows) == (set(base.flows) - {"ss_certificate"}) | {"housing_proof"}
    assert pkg.versions == {"builtin": "1.0.0", "dg-extra": "1.0.0"}
    assert pkg.translator("zh_CN")("app.title") == "莞家政务（测试）"
    assert pkg.translator("en")("flow.housing_proof.title") == "Test housing proof title"
    # Assets resolve through the layers (top first), never outside them.
    assert pkg.asset("assets/seal_dg_social_insurance.png").is_file()
    with pytest.raises(DefinitionError):
        pkg.asset("../__init__.py")  # flowpacks/__init__.py exists, outside the package
