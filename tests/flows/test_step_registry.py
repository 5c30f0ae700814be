"""Step types are found through an explicit table: one module per type, loaded on first use."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.flows.steps import BUILTIN, STEP_TYPES, StepType
from kiosk.flows.steps.registry import LazyTable

STEPS_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "flows" / "steps"
# Modules of the package that are not a step type: the base, the registry, helpers.
NOT_STEPS = {"__init__", "base", "registry", "conditions", "identify_qr"}


def _step_classes(path: Path) -> list[str]:
    """Names of the classes a module defines that set a `name = "..."` (a step type)."""
    tree = ast.parse(path.read_text("utf-8"))
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "name"
                                                  for t in s.targets) for s in node.body):
            out.append(node.name)
    return out


def test_every_builtin_entry_loads_the_class_it_names() -> None:
    for name, target in BUILTIN.items():
        cls = STEP_TYPES[name]
        assert issubclass(cls, StepType) and cls.name == name, target
        assert f"{cls.__module__}:{cls.__qualname__}" == target


def test_one_module_per_step_type_and_the_table_lists_each() -> None:
    modules = sorted(p for p in STEPS_DIR.glob("*.py")
                     if p.stem not in NOT_STEPS and not p.stem.startswith("_"))
    listed = {t.partition(":")[0].rsplit(".", 1)[1]: t.partition(":")[2]
              for t in BUILTIN.values()}
    for path in modules:
        classes = _step_classes(path)
        assert len(classes) == 1, f"{path.name} defines step types {classes}"
        assert listed.get(path.stem) == classes[0], f"{path.name} is not in BUILTIN"
    assert sorted(listed) == [p.stem for p in modules]
    for path in STEPS_DIR.glob("_*.py"):  # helpers hold no step type of their own
        module = importlib.import_module(f"kiosk.flows.steps.{path.stem}")
        assert not [c for c in vars(module).values() if isinstance(c, type)
                    and issubclass(c, StepType) and c.__module__ == module.__name__
                    and "name" in vars(c)], path.name


def _modules_after(code: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=STEPS_DIR.parents[2])
    return json.loads(out.stdout)


PROBE = """
import json, sys
def steps():
    return sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("kiosk.flows.steps."))
out = {}
import kiosk.flows.engine
engine = kiosk.flows.engine.FlowEngine()
out["engine"] = steps()
engine.step_types["consent"]
out["consent"] = steps()
from kiosk.flows.package import validate_package
out["package"] = steps()
print(json.dumps(out))
"""


def test_the_engine_loads_no_step_until_a_flow_uses_one() -> None:
    """With a bottom-of-file import of every step, the engine alone pulled in all 20."""
    seen = _modules_after(PROBE)
    assert seen["engine"] == ["base", "registry"]
    assert seen["consent"] == ["base", "consent", "registry"]
    assert seen["package"] == seen["consent"]


def test_the_table_refuses_a_class_filed_under_another_name() -> None:
    table: LazyTable[StepType] = LazyTable(StepType, {
        "agree": "kiosk.flows.steps.consent:ConsentStep",  # its name is "consent"
        "nothing": "kiosk.flows.steps.consent:NoSuchStep",
        "not_a_step": "kiosk.flows.context:StepResult"})
    assert "agree" in table and len(table) == 3 and table.loaded() == frozenset()
    with pytest.raises(TypeError, match="named 'consent', filed as 'agree'"):
        table["agree"]
    with pytest.raises(AttributeError):
        table["nothing"]
    with pytest.raises(TypeError, match="not a StepType"):
        table["not_a_step"]
    with pytest.raises(KeyError):
        table["unknown"]
    assert table.get("unknown") is None


def test_added_and_removed_names() -> None:
    table: LazyTable[StepType] = LazyTable(StepType, dict(BUILTIN))
    finish = STEP_TYPES["finish"]
    table["stamp_book"] = finish
    assert table["stamp_book"] is finish and "stamp_book" in list(table)
    del table["stamp_book"], table["consent"]
    assert "consent" not in table and "stamp_book" not in table
    with pytest.raises(KeyError):
        del table["consent"]
