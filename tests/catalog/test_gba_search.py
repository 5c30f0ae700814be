"""The issue's search examples over the 300-service package (flowpacks/gba, composed
over the built-in package and validated as the terminal does), when it is there."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.benchmarks.catalog import GBA_DIR


@pytest.fixture(scope="module")
def gba() -> tuple[Any, dict[str, Any]]:
    if not (GBA_DIR / "manifest.toml").is_file():
        pytest.skip("flowpacks/gba is not there")
    from kiosk.commands.catalog import index_for, load_over_builtin

    pkg = load_over_builtin(GBA_DIR)
    return index_for(pkg), {f.id: f for f in pkg.catalog()}


def test_examples_of_the_issue(gba: tuple[Any, dict[str, Any]]) -> None:
    index, flows = gba
    assert len(flows) >= 300
    assert index.search("sbzm", "zh_CN")[0].title == "社保参保缴费证明"
    assert index.search("wfzm", "zh_CN")[0].title == "无房证明"
    gjj = index.search("gjj", "zh_CN", limit=300)
    fund = [h for h in gjj if h.why == "initials"]
    assert len(fund) >= 3 and all(flows[h.flow_id].category == "housing_fund" for h in fund)
    assert [h.flow_id for h in index.search("gong4jijin", "zh_CN")] == \
        [h.flow_id for h in index.search("gongjijin", "zh_CN")]


def test_three_languages(gba: tuple[Any, dict[str, Any]]) -> None:
    index, flows = gba
    hk = index.search("社保", "zh_HK")
    assert hk and all(h.title.startswith("社保") for h in hk if h.why == "prefix")
    assert index.search("無房證明", "zh_CN")[0].title == "无房证明"
    en = index.search("housing fund", "en")
    assert en and flows[en[0].flow_id].category == "housing_fund" and en[0].title.isascii()
