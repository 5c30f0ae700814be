"""Pinyin readings kept across starts: a fresh process builds the index from the file
without asking pypinyin for any text, with the same results; a damaged file is rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from pathlib import Path
from kiosk.benchmarks.catalog import synthetic_catalog
import kiosk.catalog.search as search
from kiosk.catalog.search import CatalogIndex, use_reading_cache
read = []
real = search._han_readings
search._han_readings = lambda texts: read.extend(texts) or real(texts)
flows, translators, zones = synthetic_catalog()
use_reading_cache(Path(sys.argv[1]))
index = CatalogIndex.build(flows, translators, zones)
dictionaries = bool(read)
hits = [h.flow_id for q in ("sbzm", "gongjijinhuankuan", "jzzsl") for h in index.search(q, "zh_CN")]
print(json.dumps({"dictionaries": dictionaries, "hits": hits}))
"""


def build(cache: Path) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    result: dict[str, object] = json.loads(r.stdout.splitlines()[-1])
    return result


def test_second_start_reads_the_file_not_pypinyin(tmp_path: Path) -> None:
    cache = tmp_path / "catalog-readings.json"
    first = build(cache)
    assert first["dictionaries"] is True and cache.is_file()
    doc = json.loads(cache.read_text("utf-8"))
    assert doc["readings"]["公积金还款明细"] == "gong ji jin huan kuan ming xi"
    second = build(cache)
    assert second == {"dictionaries": False, "hits": first["hits"]}


def test_a_damaged_or_stale_file_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "catalog-readings.json"
    cache.write_text("{not json", "utf-8")
    assert build(cache)["dictionaries"] is True
    assert "公积金还款明细" in json.loads(cache.read_text("utf-8"))["readings"]
    doc = json.loads(cache.read_text("utf-8"))
    doc["key"] = "made by another pypinyin"
    doc["readings"]["公积金还款明细"] = "wrong reading"
    cache.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    assert build(cache)["dictionaries"] is True
    assert json.loads(cache.read_text("utf-8"))["readings"]["公积金还款明细"] != "wrong reading"
