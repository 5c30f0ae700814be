"""Authoring packages (issue 17): the generated catalog matches its data, `kiosk pack new`
scaffolds a service whose TODOs `kiosk pack build` reports with their lines, build reports
every fault of a package at once with file and line, and `kiosk pack preview` renders a
flow's screens and documents to PNGs with an index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR, GBA_DIR
from kiosk.cli import main
from kiosk.flows.model import DefinitionError
from kiosk.flows.package import load_package
from kiosk.packages import authoring
from kiosk.packages.lint import lint


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(["--log-level", "WARNING", *argv])
    out = capsys.readouterr()
    return rc, out.out + out.err


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text("utf-8").splitlines()):
        if needle in line:
            return i + 1
    raise AssertionError(f"{needle!r} not in {path}")


# -- the generated catalog ------------------------------------------------------------------
def test_the_committed_catalog_is_what_its_data_generates() -> None:
    assert authoring.differences(GBA_DIR) == []  # run scripts/gen-gba after editing the data
    table = tomllib.loads((GBA_DIR / "src" / "services.toml").read_text("utf-8"))
    assert len(table["services"]) >= 290
    assert {s["shape"] for s in table["services"]} == set(authoring.SHAPES)
    builtin = load_package(BUILTIN_DIR, validate_steps=False)
    assert not {s["id"] for s in table["services"]} & set(builtin.flows)  # overlays, never
    assert lint(GBA_DIR) == []                                            # replaces


def test_regenerating_follows_the_data_and_then_changes_nothing(tmp_path: Path) -> None:
    pkg = tmp_path / "gba"
    shutil.copytree(GBA_DIR, pkg)
    src = pkg / "src" / "services.toml"
    text = src.read_text("utf-8")
    assert 'en = "Housing fund deposit proof"' in text
    src.write_text(text.replace('en = "Housing fund deposit proof"',
                                'en = "Provident fund deposit certificate"'), "utf-8")
    assert authoring.differences(pkg) == ["differs strings/en.json"]
    assert authoring.write(pkg) == ["wrote strings/en.json"]
    assert authoring.differences(pkg) == [] and authoring.write(pkg) == []
    en = json.loads((pkg / "strings" / "en.json").read_text("utf-8"))
    assert en["flow.hf_deposit_proof.title"] == "Provident fund deposit certificate"
    # A service dropped from the data takes its generated files with it.
    start = text.index('id = "hf_deposit_proof"')
    block_start = text.rindex("[[services]]", 0, start)
    block_end = text.index("[[services]]", start)
    src.write_text(text[:block_start] + text[block_end:], "utf-8")
    changed = authoring.write(pkg)
    assert "deleted flows/hf_deposit_proof.toml" in changed
    assert "deleted templates/hf_deposit_proof_a4.toml" in changed
    assert not (pkg / "flows" / "hf_deposit_proof.toml").exists()


# -- kiosk pack new, then build ---------------------------------------------------------------
def test_scaffold_then_build_names_every_todo_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "dg-water"
    rc, out = run(capsys, "pack", "new", str(pkg), "--shape", "certificate", "--id",
                  "water_transfer_proof", "--title-zh", "水表过户证明", "--category", "public",
                  "--fields", "residence_address,account_balance")
    assert rc == 0, out
    rc, out = run(capsys, "pack", "new", str(pkg), "--shape", "guide", "--id", "dog_guide",
                  "--title-zh", "犬只登记指南", "--title-en", "Registering a dog",
                  "--category", "public", "--materials", "id_card,dog_photo")
    assert rc == 0, out
    manifest = tomllib.loads((pkg / "manifest.toml").read_text("utf-8"))
    assert manifest["flows"] == ["water_transfer_proof", "dog_guide"]
    rc, out = run(capsys, "pack", "build", str(pkg), "-o", str(tmp_path))
    assert rc == 1 and "nothing built" in out
    assert not list(tmp_path.glob("*.kpkg"))
    en, hk = pkg / "strings" / "en.json", pkg / "strings" / "zh_HK.json"
    for path, key in ((en, "flow.water_transfer_proof.title"), (hk, "flow.dog_guide.title"),
                      (en, "flow.water_transfer_proof.consent"),
                      (en, "gba.material.dog_photo")):
        line = line_of(path, f'"{key}"')
        assert f"strings/{path.name}:{line}: TODO marker left in {key!r}" in out, out
    checklist = pkg / "templates" / "dog_guide_checklist.toml"
    assert f"templates/dog_guide_checklist.toml:{line_of(checklist, 'TODO')}:" in out
    assert "flow.dog_guide.title'" not in out.split("strings/en.json")[0]  # given: no TODO
    # Write the texts in their languages: the package builds.
    written = {"zh_CN": "已填写", "zh_HK": "已填寫", "en": "Written"}
    for path in sorted((pkg / "strings").glob("*.json")):
        table = json.loads(path.read_text("utf-8"))
        path.write_text(json.dumps({k: written[path.stem] if "TODO" in v else v
                                    for k, v in table.items()}, ensure_ascii=False, indent=1),
                        "utf-8")
    checklist.write_text(checklist.read_text("utf-8").replace("TODO: ", ""), "utf-8")
    rc, out = run(capsys, "pack", "build", str(pkg), "-o", str(tmp_path))
    assert rc == 0, out
    assert "built dg-water@0.1.0" in out


# -- every fault at once ------------------------------------------------------------------------
GOOD_FLOW = """\
id = "permit"
title = "flow.permit.title"
category = "household"
zone = "{zone}"
platform = "{platform}"

[[steps]]
id = "identify"
type = "identify"
methods = ["id_card"]

[[steps]]
id = "query"
type = "query"
endpoint = "/api/v1/generic/query"
store_as = "record"
request = {{ service = "permit", id_number = "{{identity.full.id_number}}" }}

[[steps]]
id = "preview"
type = "preview"
template = "permit_a4"

[[steps]]
id = "print"
type = "print_a4"
document = "document"
on = {{ next = "{after_print}" }}

[[steps]]
id = "receipt"
type = "print_receipt"
template = "permit_receipt"

[[steps]]
id = "done"
type = "finish"
text = "{done_text}"
"""

A4 = """\
kind = "a4"
title = "居住证明"

[[blocks]]
type = "title"
text = "居住证明"

[[blocks]]
type = "paragraph"
text = "{holder}，住址 {{record.address}}。"
"""

RECEIPT = """\
kind = "receipt"
lines = [
  { type = "text", text = "居住证明" },
  { type = "kv", label = "号码", value = "{record.serial}" },
  { type = "cut" },
]
"""

MANIFEST = """\
id = "dg-faults"
version = "1.0.0"
platforms = ["gz"]
flows = ["permit", "broken"]

[[zones]]
id = "guangzhou"
title = "zone.gz"
platform = "gz"
"""


def _faulty(dst: Path, *, faults: bool) -> Path:
    """A package with eight faults made on purpose (or none: the same package, correct)."""
    (dst / "flows").mkdir(parents=True)
    (dst / "templates").mkdir()
    (dst / "strings").mkdir()
    (dst / "manifest.toml").write_text(MANIFEST, "utf-8")
    (dst / "flows" / "permit.toml").write_text(GOOD_FLOW.format(
        zone="shenzhen" if faults else "guangzhou",        # 1 zone the manifest lacks
        platform="hk" if faults else "gz",                 # 2 platform the manifest lacks
        after_print="done" if faults else "receipt",       # 3 receipt never reached
        done_text="flow.permit.done" if faults else "result.take"), "utf-8")  # 4 en missing
    (dst / "flows" / "broken.toml").write_text(
        'id = "broken"\ntitle = "flow.broken.title"\n\n[[steps]]\nid = "x"\n'
        + ('type = "teleport"\n' if faults else 'type = "finish"\n'), "utf-8")  # 5 step type
    (dst / "templates" / "permit_a4.toml").write_text(A4.format(
        holder="{applicant.name}" if faults else "{identity.name}"), "utf-8")  # 6 no step
    (dst / "templates" / "permit_receipt.toml").write_text(RECEIPT, "utf-8")
    zh = {"flow.permit.title": "居住证明", "flow.broken.title": "测试", "zone.gz": "广州专区",
          "flow.permit.done": "请取走证明"}
    en = {"flow.permit.title": "Residence proof", "flow.broken.title": "Test",
          "zone.gz": "Guangzhou" if not faults else "TODO"}  # 7 a TODO left
    if not faults:
        en["flow.permit.done"] = "Take your proof"
    hk = {"flow.permit.title": "居住證明" if not faults else "居住证明",  # 8 Simplified
          "flow.broken.title": "測試", "zone.gz": "廣州專區", "flow.permit.done": "請取走證明"}
    for locale, table in (("zh_CN", zh), ("zh_HK", hk), ("en", en)):
        (dst / "strings" / f"{locale}.json").write_text(
            json.dumps(table, ensure_ascii=False, indent=1), "utf-8")
    return dst


def test_build_reports_every_fault_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _faulty(tmp_path / "good", faults=False)
    assert lint(good) == []
    rc, out = run(capsys, "pack", "build", str(good), "-o", str(tmp_path))
    assert rc == 0, out

    bad = _faulty(tmp_path / "bad", faults=True)
    flow = bad / "flows" / "permit.toml"
    receipt_step = line_of(flow, 'id = "receipt"') - 1  # its [[steps]] line
    want = [
        f"flows/permit.toml:{line_of(flow, 'zone = ')}: unknown zone 'shenzhen'",
        f"flows/permit.toml:{line_of(flow, 'platform = ')}: unknown platform 'hk'",
        f"flows/permit.toml:{receipt_step}: step 'receipt' can never be reached",
        (f"flows/permit.toml:{line_of(flow, 'flow.permit.done')}: string 'flow.permit.done' "
        "missing in en"),
        (f"flows/broken.toml:{line_of(bad / 'flows' / 'broken.toml', 'teleport')}: "
        "steps[0].type: unknown step type 'teleport'"),
        (f"templates/permit_a4.toml:{line_of(bad / 'templates' / 'permit_a4.toml', 'applicant')}"
        ": field {applicant.name} is not provided by any step of flow 'permit'"),
        (f"strings/en.json:{line_of(bad / 'strings' / 'en.json', 'TODO')}: TODO marker left "
        "in 'zone.gz'"),
        (f"strings/zh_HK.json:{line_of(bad / 'strings' / 'zh_HK.json', 'flow.permit.title')}: "
         "'flow.permit.title' is not written in zh_HK"),
    ]
    rc, out = run(capsys, "pack", "build", str(bad), "-o", str(tmp_path / "x.kpkg"))
    assert rc == 1 and not (tmp_path / "x.kpkg").exists()
    for line in want:
        assert line in out, f"{line!r} not reported:\n{out}"
    assert "8 problems" in out, out
    # The terminal's loader still stops at the first fault (it only decides to refuse).
    with pytest.raises(DefinitionError):
        load_package(bad)


def test_a_toml_syntax_error_is_reported_with_its_line_beside_the_other_faults(
        tmp_path: Path) -> None:
    bad = _faulty(tmp_path / "bad", faults=True)
    (bad / "flows" / "broken.toml").write_text('id = "broken"\ntitle = \n', "utf-8")
    problems = [str(p) for p in lint(bad)]
    assert any(p.startswith("flows/broken.toml:2: not valid TOML") for p in problems), problems
    assert any("unknown zone 'shenzhen'" in p for p in problems)


# -- preview ------------------------------------------------------------------------------------
def test_preview_of_one_flow_writes_every_screen_its_documents_and_an_index(
        tmp_path: Path) -> None:
    out = tmp_path / "preview"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["KIOSK_STORAGE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "--log-level", "WARNING", "pack", "preview",
         str(GBA_DIR), "--out", str(out), "--flows", "hf_deposit_proof", "--locales", "en",
         "--modes", "elder", "--sizes", "1080x1920"],
        capture_output=True, text=True, timeout=240, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shots = sorted((out / "hf_deposit_proof" / "en-elder-1080x1920").glob("*.png"))
    names = [p.name for p in shots]
    for screen in ("identify.identify", "consent.consent", "preview.preview", "done.result"):
        assert any(f"hf_deposit_proof.{screen}" in n for n in names), names
    docs = out / "hf_deposit_proof" / "documents"
    assert (docs / "a4-1.pdf").read_bytes().startswith(b"%PDF-")
    assert list(docs.glob("a4-1-*.png")) and (docs / "receipt-1.png").is_file()
    index = (out / "index.html").read_text("utf-8")
    for path in [*shots, *docs.glob("*.png")]:
        assert path.relative_to(out).as_posix() in index
