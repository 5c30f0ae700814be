"""广州专区: the zone flow completed through the real widgets against both reference
platforms over HTTP — the city platform (OAuth2, its own JSON, mapped by the flow's
JMESPath) for the query and the rating, the terminal's own for its records."""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flowpacks import BUILTIN_DIR
from kiosk.backend.connectors import make_connector
from kiosk.backend.embedded import EmbeddedCity
from kiosk.config import PlatformConfig
from kiosk.flows.model import DefinitionError
from kiosk.flows.package import load_package
from synthetic.citizens import BY_KEY

from .conftest import flat, needs_poppler, pdf_pages

CHEN = BY_KEY["chen"]


@pytest.fixture(scope="module")
def city() -> Iterator[EmbeddedCity]:
    proc = EmbeddedCity("DG-TEST-0001", admin_token=secrets.token_hex(8)).start()
    try:
        assert proc.wait_ready(30), "city platform did not start"
        yield proc
    finally:
        proc.stop()


def _city_state(city: EmbeddedCity) -> dict[str, Any]:
    r = requests.get(city.url + "/_admin/state", headers={"X-Admin-Token": city.admin_token},
                     timeout=5)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def zone_runtime(business_runtime: Any, city: EmbeddedCity) -> Any:
    """A terminal on simulated devices with [platforms.gz] on the city platform."""

    def make(**devices: str) -> Any:
        rt = business_runtime(**devices)
        cfg = PlatformConfig(base_url=city.url, auth="oauth2")
        rt.connectors["gz"] = make_connector(
            "gz", cfg, base_url=city.url, terminal_id=rt.config.terminal.id,
            secret=lambda: b"", client_id=city.client_id,
            oauth_secret=lambda: city.client_secret)
        # Its link monitor (a platform without one is offline: its tiles paused).
        ready = threading.Event()
        ready.set()
        rt.offline.start_platform("gz", rt.connectors["gz"], ready)
        rt.offline.platform_monitors["gz"].check()
        return rt

    return make


@needs_poppler
def test_deposit_details_from_the_city_platform(zone_runtime: Any, drive: Any, backend: Any,
                                               city: EmbeddedCity, tmp_path: Path) -> None:
    rt = zone_runtime()
    before = _city_state(city)
    visit = drive(rt, "gz_fund_deposit")
    assert visit.ok, (visit.names, visit.errors)
    assert any(n.endswith("preview.preview") for n in visit.names), visit.names
    assert _city_state(city)["queries"] == before["queries"] + 1

    # What the city said, asked directly in its own shape, is what was printed in ours.
    answer = rt.connectors["gz"].post_json("/gjj/v2/deposit/detail",
                                           {"idCardNo": CHEN.id_number, "queryMonths": 12})
    data = answer["data"]
    (_, pdf), = rt.devices["a4"].jobs
    text = flat("".join(pdf_pages(pdf, tmp_path)))
    assert "住房公积金个人缴存明细" in text and "广州住房公积金管理中心" in text
    assert CHEN.name in text and "4419**********" in text and CHEN.id_number not in text
    assert data["personInfo"]["accountNo"] in text and data["personInfo"]["unitName"] in text
    total = round(sum(r["totalAmt"] for r in data["depositList"]), 2)
    assert f"{total:,.2f}" in text and f"{data['balance']:,.2f}" in text
    first = data["depositList"][0]["yearMonth"]
    assert f"{first[:4]}年{first[5:7]}月" in text

    # The rating is the city's record, delivered by its connector; the terminal's own
    # records (print, transaction) go to the terminal's platform.
    ready = threading.Event()
    ready.set()
    rt.offline.start(rt.backend, ready)
    assert rt.offline.worker.flush() == 0
    rated = [e for e in _city_state(city)["evaluations"] if e["session"] == visit_session(rt)]
    assert [e["service"] for e in rated] == ["gz_fund_deposit"]
    admin = {"X-Admin-Token": backend.admin_token}
    ours = requests.get(backend.url + "/_admin/state", headers=admin, timeout=5).json()
    assert not any(e.get("service") == "gz_fund_deposit" for e in ours["evaluations"])


def visit_session(rt: Any) -> str:
    """The session id of the runtime's (one) citizen visit."""
    (session,) = list(rt._sessions)
    return str(session.id)


def test_no_record_at_the_city_platform_says_so(zone_runtime: Any, drive: Any) -> None:
    """The city says "no record" with HTTP 200 and code 1001: the flow's error_map makes
    it the key citizens already know."""
    rt = zone_runtime(idcard="sim://?card=nobody")
    visit = drive(rt, "gz_fund_deposit")
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert rt.package.translator("zh_CN")("backend.no_record") in texts
    assert rt.devices["a4"].jobs == []


def test_a_bad_mapping_is_refused_when_the_package_loads(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR, pkg)
    flow = pkg / "flows" / "gz_fund_deposit.toml"
    flow.write_text(flow.read_text(encoding="utf-8").replace(
        'request_map = "{idCardNo: id_number, queryMonths: months}"',
        'request_map = "{idCardNo: id_number, queryMonths: }"'), encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_package(pkg)
    assert err.value.path.endswith("steps[2].request_map") or "request_map" in err.value.path
    assert "JMESPath" in err.value.problem
