"""The catalog bench reports its keys (numbers are for `kiosk bench`, not asserted).
The fresh-interpreter builds are left out here (the readings-cache test runs that path)."""

from __future__ import annotations

from kiosk.benchmarks.catalog import measure


def test_catalog_bench_keys() -> None:
    out = measure(1, cold=False)
    for key in ("catalog_search_p95_ms", "catalog_search_p95_ms_baseline",
                "catalog_search_p95_cpu_ms", "catalog_index_build_ms",
                "catalog_bench_uses_gba", "catalog_bench_services"):
        assert key in out and out[key] >= 0, key
    assert out["catalog_bench_services"] >= 300
    assert out["catalog_search_keystrokes"] > 100
