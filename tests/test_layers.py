"""Import direction between layers (STYLE.md rule 1), checked on the source tree."""

from __future__ import annotations

import ast
from functools import lru_cache
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


# The terminal installs only the terminal's dependencies: the operations centre and its
# server libraries are a deployable of their own (DESIGN.md: "a terminal installs only the
# terminal's dependencies"). The reference platform keeps FastAPI for itself.
SERVER_ONLY = ("opscentre", "sqlalchemy", "alembic", "jinja2", "fastapi", "psycopg")


def test_the_terminal_imports_nothing_of_the_centre() -> None:
    assert offenders(files("kiosk") + files("offline_cache"), SERVER_ONLY) == []


def test_the_centre_rule_sees_a_lazy_import(tmp_path: Path) -> None:
    """The check above must be able to fail: a function-level import is still found."""
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from sqlalchemy.orm import Session\n    import jinja2\n")
    found = imports_of(src)
    assert {"sqlalchemy.orm", "jinja2"} <= found
    assert [m for m in sorted(found) if m.split(".")[0] in SERVER_ONLY] == ["jinja2",
                                                                          "sqlalchemy.orm"]


# -- import circles --------------------------------------------------------------------------
# Every import counts: at the top, inside functions and under TYPE_CHECKING. A circle
# through a lazy or typing-only import still means neither module can be read, tested or
# loaded alone (STYLE.md: "the engine should not need every step to load").
CYCLE_ROOTS = ("kiosk", "offline_cache")

# Edges of circles in other engineers' areas, reported to them and tolerated here so that
# this test passes today and fails on any NEW circle. Remove an entry once it is gone.
KNOWN_EDGES: dict[tuple[str, str], str] = {}


def module_names(base: Path, roots: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for root in roots:
        for path in sorted((base / root).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules among `known` that module `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x`, `from ..flows import y`
                anchor = package.split(".")[:max(0, len(package.split(".")) - node.level + 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where c is a name
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph(base: Path, roots: tuple[str, ...]) -> dict[str, set[str]]:
    mods = module_names(base, roots)
    return {name: imported_modules(name, path, set(mods)) for name, path in mods.items()}


@lru_cache(maxsize=1)
def terminal_graph() -> dict[str, set[str]]:
    return import_graph(REPO, CYCLE_ROOTS)


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph[start])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _shortest_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """A shortest circle through the first module of a component, as a path a -> … -> a."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return members


def import_cycles(graph: dict[str, set[str]],
                  known: dict[tuple[str, str], str] | None = None) -> list[list[str]]:
    """Each import circle as a path `a -> b -> … -> a` (one per strongly connected part),
    ignoring the `known` edges."""
    pruned = {n: {m for m in edges if (n, m) not in (known or {})} for n, edges in graph.items()}
    return [_shortest_cycle(pruned, c) for c in _components(pruned)]


def test_the_cycle_check_finds_circles_through_lazy_typing_and_relative_imports(
        tmp_path: Path) -> None:
    """The check can fail: a tiny package with two circles, neither visible at import time."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def later():\n    import pkg.c.deep\n",
        "c/__init__.py": "",
        "c/deep.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from pkg.a import Thing\n"),
        "d.py": "from . import e\n",
        "e.py": "from .d import helper\n",
        "f.py": "import pkg.a\n",  # imports into a circle, is not part of one
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path, ("pkg",))
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c.deep", "pkg.a"],
                                    ["pkg.d", "pkg.e", "pkg.d"]]
    assert import_cycles(graph, {("pkg.b", "pkg.c.deep"): "known"}) == [
        ["pkg.d", "pkg.e", "pkg.d"]]
    (pkg / "e.py").write_text("HELPER = 1\n", encoding="utf-8")
    (pkg / "b.py").write_text("X = 1\n", encoding="utf-8")
    assert import_cycles(import_graph(tmp_path, ("pkg",))) == []


def test_no_import_circles_in_the_terminal() -> None:
    graph = terminal_graph()
    assert "kiosk.flows.steps.registry" in graph["kiosk.flows.package"]  # the walker works
    stale = [edge for edge in KNOWN_EDGES if edge[1] not in graph.get(edge[0], set())]
    assert stale == [], "known edges that no longer exist: remove them from KNOWN_EDGES"
    cycles = import_cycles(graph, KNOWN_EDGES)
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _module_imports(package: str) -> dict[str, set[str]]:
    return {name: edges for name, edges in terminal_graph().items()
            if name == package or name.startswith(package + ".")}


def test_devices_import_neither_commands_documents_nor_flows() -> None:
    bad = sorted(f"{name} imports {dep}" for name, deps in _module_imports("kiosk.devices").items()
                 for dep in deps
                 if dep.startswith(("kiosk.commands", "kiosk.documents", "kiosk.flows")))
    assert bad == []


def test_flows_reach_the_backend_and_devices_only_through_their_contracts() -> None:
    """Flows catch `kiosk.backend.errors.BackendError`, never import the HTTP client, and
    know devices by their contracts (`kiosk.devices.base`, `kiosk.devices.<kind>.api`)."""
    bad = []
    for name, deps in _module_imports("kiosk.flows").items():
        for dep in deps:
            if dep.startswith("kiosk.backend") and dep != "kiosk.backend.errors":
                bad.append(f"{name} imports {dep}")
            if dep.startswith("kiosk.devices") and dep not in ("kiosk.devices.base",) \
                    and not dep.endswith(".api"):
                bad.append(f"{name} imports {dep}")
    assert sorted(bad) == []
