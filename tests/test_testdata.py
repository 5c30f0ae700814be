"""The repository is self-contained: test data lives in tests/data with its provenance, and
no code reads the folder beside the checkout that a fresh clone does not have."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FACES = REPO / "tests" / "data" / "faces"
NOT_PHOTOS = {"README.md", "pairs.csv"}

# A path built to `../shared` (the old location of the face photos, beside the checkout):
# "../shared…", `/ "shared"`, or shared/testdata named in a path string.
OUTSIDE = re.compile(r"""\.\./shared\b|/\s*["']shared["']|["'][^"'\n]*\bshared/testdata""")


def provenance() -> dict[str, tuple[int, str]]:
    """File name -> (bytes, first 12 hex digits of SHA-1) from the faces README table."""
    rows = {}
    for line in (FACES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[4].isdigit():
            rows[cells[0]] = (int(cells[4]), cells[5])
    return rows


def outside_reads(root: Path, folders: tuple[str, ...]) -> list[str]:
    """`path:line` of every source line under `folders` that builds a path to ../shared."""
    hits = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in {".py", ".sh", ".toml", ""} or not path.is_file() \
                    or path == Path(__file__).resolve():  # this file names the patterns
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for no, line in enumerate(text.splitlines(), 1):
                if OUTSIDE.search(line):
                    hits.append(f"{path.relative_to(root)}:{no}")
    return hits


def test_every_photo_is_the_upstream_file_its_licence_notes_name() -> None:
    rows = provenance()
    photos = {p.name for p in FACES.iterdir()
              if p.suffix in {".jpg", ".png"} and p.name not in NOT_PHOTOS}
    assert len(rows) == 23 and photos == set(rows)
    for name, (size, sha1) in rows.items():
        data = (FACES / name).read_bytes()
        assert (len(data), hashlib.sha1(data).hexdigest()[:12]) == (size, sha1), name
    for licence in ("LICENSE-MIT-face_recognition.txt", "LICENSE-Apache-2.0.txt"):
        assert (FACES / licence).is_file()


def test_every_pair_names_photos_in_the_repository() -> None:
    lines = (FACES / "pairs.csv").read_text(encoding="utf-8").split()
    assert lines[0] == "img_a,img_b,same" and len(lines) == 66
    for line in lines[1:]:
        a, b, _same = line.split(",")
        assert (FACES / a).is_file() and (FACES / b).is_file()


def test_no_code_reads_the_folder_beside_the_checkout() -> None:
    folders = ("kiosk", "tests", "scripts", "reference_backend", "emulators", "offline_cache",
               "synthetic", ".ci")
    assert outside_reads(REPO, folders) == []


def test_the_check_finds_a_path_to_the_folder_beside_the_checkout(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(
        'FACES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces"\n'
        "# a comment about shared memory is fine\n", encoding="utf-8")
    (tmp_path / "pkg" / "b.sh").write_text("cp ../shared/x .\n", encoding="utf-8")
    assert outside_reads(tmp_path, ("pkg",)) == ["pkg/a.py:1", "pkg/b.sh:1"]
