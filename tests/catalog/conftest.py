"""Shared fixtures of the catalog tests: one index over the synthetic Guangdong catalog."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def synthetic() -> tuple[list[Any], dict[str, Any], dict[str, dict[str, str]]]:
    """~300 FlowDefs (tests/catalog/data), translators by locale, zone titles."""
    from kiosk.benchmarks.catalog import synthetic_catalog

    return synthetic_catalog()


@pytest.fixture(scope="session")
def index(synthetic: tuple[list[Any], dict[str, Any], dict[str, dict[str, str]]]) -> Any:
    from kiosk.catalog.search import CatalogIndex

    flows, translators, zones = synthetic
    return CatalogIndex.build(flows, translators, zones)


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small flow package folder (titles in three languages, a zone, keywords)."""
    import json

    root = tmp_path_factory.mktemp("catalog-pkg")
    (root / "flows").mkdir()
    (root / "strings").mkdir()
    flows = {  # id: (category, zh_CN, zh_HK, en, zone, keywords)
        "ss_certificate": ("social_security", "社保参保缴费证明", "社保參保繳費證明",
                           "Social insurance certificate", "", []),
        "no_property": ("real_estate", "无房证明", "無房證明", "Certificate of no property",
                        "", ["不动产"]),
        "hf_repay": ("housing_fund", "公积金还款明细", "公積金還款明細",
                     "Housing fund loan repayments", "", ["gjj"]),
        "gz_hf_deposit": ("housing_fund", "住房公积金缴存证明", "住房公積金繳存證明",
                          "Housing fund deposit certificate", "guangzhou", []),
        "queue": ("public", "预约取号", "預約取號", "Queue number", "", ["排队"]),
        "hkmo_endorse": ("exit_entry", "港澳通行证再次签注", "港澳通行證再次簽注",
                         "Hong Kong and Macao permit endorsement", "", []),
    }
    strings: dict[str, dict[str, str]] = {"zh_CN": {}, "zh_HK": {}, "en": {}}
    for i, (fid, (cat, cn, hk, en, zone, kw)) in enumerate(flows.items()):
        for loc, text in (("zh_CN", cn), ("zh_HK", hk), ("en", en)):
            strings[loc][f"flow.{fid}.title"] = text
        extra = f'zone = "{zone}"\nplatform = "gz"\n' if zone else ""
        (root / "flows" / f"{fid}.toml").write_text(
            f'id = "{fid}"\ntitle = "flow.{fid}.title"\ncategory = "{cat}"\n'
            f"order = {10 * (i + 1)}\nkeywords = {json.dumps(kw, ensure_ascii=False)}\n"
            f"requires_online = false\n{extra}\n"
            f'[[steps]]\nid = "consent"\ntype = "consent"\ntext = "flow.{fid}.title"\n\n'
            '[[steps]]\nid = "done"\ntype = "finish"\n', "utf-8")
    for loc, zone in (("zh_CN", "广州专区"), ("zh_HK", "廣州專區"), ("en", "Guangzhou zone")):
        strings[loc]["zone.guangzhou"] = zone
        (root / "strings" / f"{loc}.json").write_text(
            json.dumps(strings[loc], ensure_ascii=False), "utf-8")
    (root / "manifest.toml").write_text(
        f'id = "catalog-test"\nversion = "1.0.0"\nflows = {json.dumps(list(flows))}\n'
        'platforms = ["gz"]\n\n[[zones]]\nid = "guangzhou"\ntitle = "zone.guangzhou"\n'
        'platform = "gz"\norder = 10\n', "utf-8")
    return root
