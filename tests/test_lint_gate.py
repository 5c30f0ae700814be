"""The lint and type gate can fail: scripts/lint, with the project's configuration, refuses
a lint finding, a type error, and an unannotated function in a strict package (and only
there), so nobody can quietly turn the gate into a no-op; and scripts/test runs it, and
stops on it, before any test."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT = REPO / "scripts" / "lint"
TEST = REPO / "scripts" / "test"

CLEAN = '''"""A module with nothing to find."""

from __future__ import annotations


def double(n: int) -> int:
    return n * 2
'''


def lint(cwd: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), *paths], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_clean_code_passes(tmp_path: Path) -> None:
    write(tmp_path, "ok.py", CLEAN)
    res = lint(tmp_path, "ok.py")
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_lint_finding_fails_the_gate(tmp_path: Path) -> None:
    write(tmp_path, "bad_lint.py", CLEAN + "\n\ndef f(items: list[int] = []) -> int:\n"
          "    import os\n    return len(items)\n")
    res = lint(tmp_path, "bad_lint.py")
    assert res.returncode != 0
    assert "B006" in res.stdout and "F401" in res.stdout  # mutable default, unused import


def test_a_type_error_fails_the_gate(tmp_path: Path) -> None:
    write(tmp_path, "bad_type.py", CLEAN + '\n\nHALF: str = double(2)\n')
    res = lint(tmp_path, "bad_type.py")
    assert res.returncode != 0 and "[assignment]" in res.stdout


def test_strict_packages_are_strict_and_the_others_are_not(tmp_path: Path) -> None:
    untyped = CLEAN + "\n\ndef triple(n):\n    return n * 3\n"
    write(tmp_path, "kiosk/flows/untyped.py", untyped)
    write(tmp_path, "kiosk/ui/untyped.py", untyped)
    strict = lint(tmp_path, "kiosk/flows/untyped.py")
    assert strict.returncode != 0 and "[no-untyped-def]" in strict.stdout
    # mypy applies a per-module `strict = true` to every module: the others stay normal
    normal = lint(tmp_path, "kiosk/ui/untyped.py")
    assert normal.returncode == 0, normal.stdout + normal.stderr


def commands(script: Path) -> list[str]:
    """The script's lines without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in script.read_text("utf-8").splitlines())
    return [line for line in lines if line]


def test_scripts_test_runs_the_gate_after_setup_and_before_pytest() -> None:
    lines = commands(TEST)
    setup = lines.index("./scripts/setup || exit 1")
    gate = lines.index("./scripts/lint || exit 1")  # a finding ends the run
    tests = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert setup < gate < tests
