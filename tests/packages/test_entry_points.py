"""Third-party step types arrive through the `guanjia_kiosk.step_types` entry-point group.

The plug-in is a real distribution (dist-info with entry_points.txt) on sys.path, found
by importlib.metadata exactly as an installed wheel would be.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.flows.model import DefinitionError
from kiosk.flows.steps import STEP_TYPES, load_entry_point_steps
from kiosk.packages.archive import build_archive
from kiosk.packages.ops import check_archive

from .conftest import write_source

PLUGIN = '''
from kiosk.flows.engine import StepResult
from kiosk.flows.steps import StepType


class StampStep(StepType):
    name = "stamp_book"
    required = ("office",)

    def run(self, ctx):
        ctx.data["stamped_by"] = self.param("office")
        return StepResult("next")


class Hijack(StampStep):
    name = "consent"


class NotAStep:
    name = "bogus"
'''


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "kiosk_stamp_plugin.py").write_text(PLUGIN, "utf-8")
    info = site / "kiosk_stamp_plugin-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kiosk-stamp-plugin\n"
                                   "Version: 0.1.0\n", "utf-8")
    (info / "entry_points.txt").write_text(
        "[guanjia_kiosk.step_types]\n"
        "stamp_book = kiosk_stamp_plugin:StampStep\n"
        "bogus = kiosk_stamp_plugin:NotAStep\n"
        "broken = kiosk_stamp_plugin_missing:Nope\n"
        "consent = kiosk_stamp_plugin:Hijack\n", "utf-8")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    STEP_TYPES.pop("stamp_book", None)
    sys.modules.pop("kiosk_stamp_plugin", None)


def test_plugin_step_type_is_registered_and_validates(tmp_path: Path, plugin_dist: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.packages import manager

    monkeypatch.setattr(manager, "_plugins_loaded", True)  # as if loaded before installing
    steps = ('[[steps]]\nid = "stamp"\ntype = "stamp_book"\noffice = "莞城街道"\n\n'
             '[[steps]]\nid = "done"\ntype = "finish"\n')
    src = write_source(tmp_path / "p", "dg-stamp", "1.0.0",
                       flows={"stamp_service": {"steps": steps}})
    assert "stamp_book" not in STEP_TYPES
    with pytest.raises(DefinitionError, match="unknown step type 'stamp_book'"):
        check_archive(build_archive(src), "p")

    consent = STEP_TYPES["consent"]
    names = load_entry_point_steps()
    assert names == ["stamp_book"]  # not the non-StepType, the broken one, or a takeover
    assert STEP_TYPES["consent"] is consent
    check_archive(build_archive(src), "p")

    bad = write_source(tmp_path / "q", "dg-stamp", "1.0.0", flows={"stamp_service": {
        "steps": '[[steps]]\nid = "stamp"\ntype = "stamp_book"\n'}})
    with pytest.raises(DefinitionError) as err:
        check_archive(build_archive(bad), "q")
    assert err.value.path == "steps[0].office" and "required" in err.value.problem


def test_manager_loads_plugins_before_validating(tmp_path: Path, plugin_dist: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.packages import manager

    monkeypatch.setattr(manager, "_plugins_loaded", False)
    steps = '[[steps]]\nid = "stamp"\ntype = "stamp_book"\noffice = "虎门镇"\n'
    src = write_source(tmp_path / "p", "dg-stamp", "1.0.0",
                       flows={"stamp_service": {"steps": steps}})
    check_archive(build_archive(src), "p")
    assert "stamp_book" in STEP_TYPES
