"""`kiosk catalog search` through a real process: the kiosk's ranking from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def kiosk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_STORAGE_DATA_DIR": str(data_dir), "KIOSK_LANG": "en"}
    env.pop("KIOSK_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)


def test_json_best_first_from_the_active_package_set(tmp_path: Path) -> None:
    r = kiosk("catalog", "search", "sbzm", "--json", "--limit", "1", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 1 and hits[0]["title"] == "社保参保缴费证明"
    assert hits[0]["id"] == "ss_certificate" and {"id", "title", "score", "why"} <= set(hits[0])


def test_language_limit_and_package_folder(tmp_path: Path, package_dir: Path) -> None:
    """--package: the folder over the built-in package, as a terminal would hold it."""
    r = kiosk("catalog", "search", "gatxz", "--lang", "zh_HK", "--json",
              "--package", str(package_dir), data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [(h["id"], h["title"], h["why"]) for h in json.loads(r.stdout)] == [
        ("hkmo_endorse", "港澳通行證再次簽注", "initials")]
    r = kiosk("catalog", "search", "endorse", "--lang", "en", "--package", str(package_dir),
              data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "id", "title"]
    assert "hkmo_endorse" in lines[1] and "Hong Kong and Macao permit endorsement" in lines[1]


def test_unknown_language_and_bad_package_exit_2(tmp_path: Path) -> None:
    r = kiosk("catalog", "search", "社保", "--lang", "fr", data_dir=tmp_path)
    assert r.returncode == 2 and "unknown language 'fr'" in r.stderr and not r.stdout
    r = kiosk("catalog", "search", "社保", "--package", str(tmp_path), data_dir=tmp_path)
    assert r.returncode == 2 and "not a package folder" in r.stderr
