"""Catalog search benchmarks: per-keystroke search time over ~300 services, index build.

`catalog_search_p95_ms`: realistic queries (pinyin, initials, characters, English) typed
one key at a time; every prefix is one search, as the home screen does on each
keystroke; p95 over all keystrokes of all repeats. `catalog_search_p95_ms_baseline`: the
same keystrokes answered by the plainest search there is (a substring scan over the
titles); `catalog_search_p95_cpu_ms`: the searching thread's CPU time per keystroke
(p95; on a shared machine the wall-clock figure is mostly waiting for a core).
`catalog_index_build_ms`: `CatalogIndex.build` for three languages with pypinyin already
imported (median); `catalog_index_build_cold_ms`: a fresh interpreter
importing the module and building once (a terminal's first start);
`catalog_index_build_cold_cached_ms`: the same with the readings kept by
`use_reading_cache` from that first start (every later start).

The catalog is the 300-service package `flowpacks/gba` composed over the built-in one
when it is there (`catalog_bench_uses_gba` = 1), else the synthetic Guangdong catalog of
the tests (tests/catalog/data, = 0); `catalog_bench_services` says how many.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.flows.model import FlowDef, StepDef
from kiosk.i18n import LOCALES, Translator

REPO = Path(__file__).resolve().parents[2]
GBA_DIR = REPO / "flowpacks" / "gba"
SYNTHETIC_DIR = REPO / "tests" / "catalog" / "data"

# Typed as a citizen types them; each prefix is a keystroke.
QUERIES: tuple[tuple[str, str], ...] = (
    ("sbzm", "zh_CN"), ("wfzm", "zh_CN"), ("gjj", "zh_CN"), ("gongjijin", "zh_CN"),
    ("shebaokabuhuan", "zh_CN"), ("zhufanggongjijintiqu", "zh_CN"), ("jzzsl", "zh_HK"),
    ("yibaojiaofeimingxi", "zh_HK"), ("gzgjjjczm", "zh_CN"), ("社保参保缴费证明", "zh_CN"),
    ("公积金提取", "zh_HK"), ("無房證明", "zh_HK"), ("social insurance certificate", "en"),
    ("housing fund withdrawal", "en"), ("driving licence", "en"), ("passport", "en"),
)

_DEPARTMENTS = {  # category -> (zh_CN, en) for the synthetic catalog
    "social_security": ("社会保险基金管理中心", "Social Insurance Fund Centre"),
    "medical": ("医疗保障局", "Healthcare Security Bureau"),
    "housing_fund": ("住房公积金管理中心", "Housing Provident Fund Centre"),
    "tax": ("税务局", "Tax Bureau"),
    "real_estate": ("不动产登记中心", "Real Estate Registration Centre"),
}


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def _to_traditional(data_dir: Path) -> dict[int, str]:
    table: dict[int, str] = {}
    for line in (data_dir / "s2t.txt").read_text("utf-8").splitlines():
        if not line.startswith("#"):
            table.update({ord(p[0]): p[1] for p in line.split() if len(p) == 2})
    return table


def synthetic_catalog(data_dir: Path = SYNTHETIC_DIR
                      ) -> tuple[list[FlowDef], dict[str, Translator], dict[str, dict[str, str]]]:
    """~300 FlowDefs with titles in three languages: Dongguan's services plus 25 of them
    in each of eight city zones. Returns (flows, translators by locale, zone titles as
    locale -> zone id -> title)."""
    s2t = _to_traditional(data_dir)
    strings: dict[str, dict[str, str]] = {loc: {} for loc in LOCALES}
    flows: list[FlowDef] = []
    zone_rows = _rows(data_dir / "zones.tsv")
    repeated = next(r[1].split() for r in zone_rows if r[0] == "services")
    cities = [r for r in zone_rows if r[0] != "services"]
    zone_titles: dict[str, dict[str, str]] = {loc: {} for loc in LOCALES}

    def add(fid: str, cat: str, zh: str, en: str, keywords: list[str], order: int,
            zone: str = "") -> None:
        for loc, text in (("zh_CN", zh), ("zh_HK", zh.translate(s2t)), ("en", en)):
            strings[loc][f"flow.{fid}.title"] = text
        dept = _DEPARTMENTS.get(cat)
        if dept:
            for loc, text in (("zh_CN", dept[0]), ("zh_HK", dept[0].translate(s2t)),
                              ("en", dept[1])):
                strings[loc][f"dept.{cat}"] = text
        flows.append(FlowDef(id=fid, title=f"flow.{fid}.title",
                             steps=(StepDef("done", "finish"),), category=cat,
                             department=f"dept.{cat}" if dept else "",
                             keywords=tuple(keywords), order=order, zone=zone))

    base = {r[0]: r for r in _rows(data_dir / "gd_services.tsv")}
    for i, (fid, cat, zh, en, kw) in enumerate(base.values()):
        add(fid, cat, zh, en, [k for k in kw.split(",") if k], 10 * (i + 1))
    for j, (zid, city, city_en) in enumerate(cities):
        for loc, text in (("zh_CN", f"{city}专区"), ("zh_HK", f"{city}專區".translate(s2t)),
                          ("en", f"{city_en} zone")):
            zone_titles[loc][zid] = text
        for k, sid in enumerate(repeated):
            _, cat, zh, en, kw = base[sid]
            add(f"{zid}_{sid}", cat, f"{city}{zh}", f"{en} ({city_en})",
                [k for k in kw.split(",") if k], 2000 + 100 * j + k, zone=zid)
    return flows, {loc: Translator(loc, strings) for loc in LOCALES}, zone_titles


def bench_catalog() -> tuple[list[FlowDef], dict[str, Translator],
                             dict[str, dict[str, str]], bool]:
    """(flows, translators, zone titles, whether it is flowpacks/gba)."""
    if (GBA_DIR / "manifest.toml").is_file():
        from kiosk.commands.catalog import load_over_builtin
        from kiosk.flows.model import DefinitionError

        try:
            pkg = load_over_builtin(GBA_DIR)  # as the terminal composes and checks it
        except DefinitionError as exc:  # a package being written: measure the synthetic one
            print(f"bench: catalog: flowpacks/gba does not load ({exc}); "
                  "using the synthetic catalog", file=sys.stderr)
            flows, translators, zones = synthetic_catalog()
            return flows, translators, zones, False
        translators = {loc: pkg.translator(loc) for loc in LOCALES}
        zones = {loc: {z.id: str(translators[loc](z.title)) for z in pkg.zones.values()}
                 for loc in LOCALES}
        return pkg.catalog(), translators, zones, True
    flows, translators, zones = synthetic_catalog()
    return flows, translators, zones, False


def _p95(samples: list[float]) -> float:
    samples = sorted(samples)
    return round(samples[min(len(samples) - 1, int(0.95 * len(samples)))] * 1000, 3)


def _keystrokes() -> list[tuple[str, str]]:
    return [(q[:i], loc) for q, loc in QUERIES for i in range(1, len(q) + 1)]


def measure_search(index: Any, titles: Mapping[str, list[str]], repeat: int
                   ) -> dict[str, float]:
    keys = _keystrokes()
    ours: list[float] = []
    cpu: list[float] = []
    base: list[float] = []
    for _ in range(max(1, repeat)):
        for text, loc in keys:  # interleaved, so that both see the same machine
            t, c = time.perf_counter(), time.thread_time()
            index.search(text, loc)
            ours.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
            t = time.perf_counter()
            needle = text.casefold()
            _ = [x for x in titles[loc] if needle in x]
            base.append(time.perf_counter() - t)
    # CPU time of the searching thread: what a keystroke costs on a machine not
    # shared with others (the wall-clock p95 includes waiting for a core).
    return {"catalog_search_p95_ms": _p95(ours), "catalog_search_p95_ms_baseline": _p95(base),
            "catalog_search_p95_cpu_ms": _p95(cpu),
            "catalog_search_keystrokes": float(len(keys))}


_COLD = """
import sys, time
from pathlib import Path
from kiosk.benchmarks.catalog import bench_catalog
flows, translators, zones, _ = bench_catalog()
t1 = time.perf_counter()
from kiosk.catalog.search import CatalogIndex, use_reading_cache
use_reading_cache(Path(sys.argv[1]))
CatalogIndex.build(flows, translators, zones)
print((time.perf_counter() - t1) * 1000)
"""


def _cold_build_ms(cache: Path) -> float | None:
    """One build in a fresh interpreter (module imports included), readings cached in
    `cache` (absent: the first start)."""
    run = subprocess.run([sys.executable, "-c", _COLD, str(cache)], capture_output=True,
                         text=True, check=False, cwd=REPO, timeout=120)
    if run.returncode != 0 or not run.stdout.strip():
        print(f"bench: catalog: cold build failed: {run.stderr[-400:]}", file=sys.stderr)
        return None
    return round(float(run.stdout.split()[-1]), 1)


def measure(repeat: int, cold: bool = True) -> dict[str, float]:
    """`cold=False`: without the two fresh-interpreter builds (the bench's own test)."""
    from kiosk.catalog.search import CatalogIndex, clear_reading_cache

    flows, translators, zones, gba = bench_catalog()
    builds = []
    index = CatalogIndex.build(flows, translators, zones)  # imports pypinyin
    for _ in range(max(1, repeat)):
        clear_reading_cache()
        t = time.perf_counter()
        index = CatalogIndex.build(flows, translators, zones)
        builds.append(time.perf_counter() - t)
    titles = {loc: [str(translators[loc](f.title)).casefold() for f in flows]
              for loc in translators}
    out = {"catalog_bench_uses_gba": 1.0 if gba else 0.0,
           "catalog_bench_services": float(len(flows)),
           "catalog_index_build_ms": round(statistics.median(builds) * 1000, 1)}
    if cold:
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-cat-") as tmp:
            cache = Path(tmp) / "readings.json"
            for key in ("catalog_index_build_cold_ms", "catalog_index_build_cold_cached_ms"):
                ms = _cold_build_ms(cache)  # the first run writes the cache the second reads
                if ms is not None:
                    out[key] = ms
    out.update(measure_search(index, titles, repeat))
    return out
