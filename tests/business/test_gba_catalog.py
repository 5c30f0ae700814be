"""The ~300-service Greater Bay Area catalog (flowpacks/gba, issue 17) as ops ship it and a
terminal runs it: built, signed, published into a TUF repository served over HTTP, polled
and activated by the terminal's package manager on top of the built-in package; then a
generated certificate service runs end to end through the real widgets against the
reference platform over HTTP, and its sealed PDF is rendered."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flowpacks import BUILTIN_DIR, GBA_DIR
from kiosk.flows.package import load_package
from kiosk.packages import keys as keymod
from kiosk.packages import ops
from kiosk.packages.manager import PackageManager
from tests.business.conftest import needs_poppler, pdf_pages, receipt_texts
from tests.packages.conftest import OpsEnv, serve


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpsEnv, str]]:
    """gba built and signed by the builder's key, published to every terminal (keys made
    here), the repository on a static HTTP server on 127.0.0.1."""
    env = OpsEnv(tmp_path_factory.mktemp("ops"))
    env.setup()
    archive, checked = ops.build(GBA_DIR, env.base / "gba.kpkg")
    assert checked.id == "gba" and len(checked.flows) >= 290
    ops.sign(archive, keymod.load_private(env.keys / "signer.key"))
    ops.publish(archive, env.repo_dir, env.keys)
    with serve(env.repo_dir) as server:
        yield env, server.url


def _terminal(data_dir: Path, env: OpsEnv, url: str) -> PackageManager:
    return PackageManager(data_dir, BUILTIN_DIR, repository_url=url,
                          trusted_root=env.pinned_root, terminal_id="DG-TEST-0001",
                          signer_keys=[keymod.load_public(env.keys / "signer.pub")])


def test_the_catalog_activates_through_the_package_manager(
        published: tuple[OpsEnv, str], tmp_path: Path) -> None:
    env, url = published
    mgr = _terminal(tmp_path / "packages", env, url)
    before = mgr.load_active()
    assert before.versions == {"builtin": "1.0.0"}
    result = mgr.poll()
    assert result.changed and result.staged == ("gba@1.0.0",), result
    pkg = mgr.activate_staged()
    assert pkg is not None and pkg.versions == {"builtin": "1.0.0", "gba": "1.0.0"}
    gba = load_package(GBA_DIR, validate_steps=False)
    builtin = load_package(BUILTIN_DIR, validate_steps=False)
    assert set(pkg.flows) == set(gba.flows) | set(builtin.flows)
    assert len(pkg.catalog()) >= 290 + len(builtin.flows)
    assert {"guangzhou", "shenzhen", "hk_macao"} <= set(pkg.zones) and "gz" in pkg.platforms
    assert pkg.flow_origin["hf_deposit_proof"] == "gba@1.0.0"
    assert pkg.flow_origin["ss_certificate"] == "builtin@1.0.0"  # the seven stay built in
    assert {f.category for f in pkg.catalog()} >= {"social_security", "medical", "tax",
                                                   "housing_fund", "exit_entry", "transport"}
    # The next start takes the same verified set from the store.
    again = _terminal(tmp_path / "packages", env, url).load_active()
    assert again.versions == pkg.versions


@needs_poppler
def test_a_generated_certificate_service_end_to_end(
        published: tuple[OpsEnv, str], tmp_path: Path, backend: Any, business_runtime: Any,
        drive: Any) -> None:
    env, url = published
    mgr = _terminal(tmp_path / "data" / "packages", env, url)  # make_runtime's data folder
    mgr.load_active()
    assert mgr.poll().changed and mgr.activate_staged() is not None
    rt = business_runtime()
    assert rt.package.versions == {"builtin": "1.0.0", "gba": "1.0.0"}
    assert "med_insured_proof" in {f.id for f in rt.package.catalog()}

    visit = drive(rt, "med_insured_proof")
    assert visit.ok, (visit.names, visit.errors)
    for screen in ("consent.consent", "query.progress", "preview.preview", "done.result"):
        assert any(n.endswith(f"med_insured_proof.{screen}") for n in visit.names), visit.names
    consent = visit.shown("consent.consent")[0][1]
    assert "东莞市医疗保障局" in consent and "医保参保凭证" in consent

    ((_, pdf),) = rt.devices["a4"].jobs
    page = pdf_pages(pdf, tmp_path, "med")[0]
    for text in ("医保参保凭证", "陈晓梅", "4419**********3627", "东莞市松湖智造科技有限公司",
                 "正常参保", "2010-07", "东莞市医疗保障局"):
        assert text in page, (text, page)
    assert "441900198503143627" not in page  # the number is masked on paper too
    code = next(w for w in page.split() if w.count("-") == 2 and len(w) == 14)
    verify = requests.get(f"{backend.url}/verify/{code}", timeout=10)
    assert verify.status_code == 200 and code in verify.text and "陈**" in verify.text
    (tmp_path / "med.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(tmp_path / "med.pdf"),
                    str(tmp_path / "med")], check=True, timeout=60)
    assert (tmp_path / "med-1.png").stat().st_size > 10_000
    (receipt,) = receipt_texts(rt)
    assert "医保参保凭证 办理凭条" in receipt and "4419**********3627" in receipt


def test_the_generic_platform_refuses_what_it_does_not_serve(backend: Any) -> None:
    from kiosk.backend.client import BackendClient
    from kiosk.backend.errors import BackendError
    from synthetic.citizens import BY_KEY

    client = BackendClient(backend.url, backend.terminal_id, backend.secret)
    chen = BY_KEY["chen"].id_number
    answer = client.post_json("/api/v1/generic/query", {
        "service": "tr_violations", "id_number": chen, "fields": ["vehicle_plate"]})
    assert answer["fields"]["vehicle_plate"].startswith("粤S")
    again = client.post_json("/api/v1/generic/query", {
        "service": "tr_violations", "id_number": chen, "fields": ["vehicle_plate"]})
    assert again["fields"] == answer["fields"]  # the same person, the same answer
    # A generated certificate is sealed by its department's e-seal (the seal service
    # takes the office the certificate was issued under).
    cert = client.post_json("/api/v1/generic/certificate", {
        "service": "hf_deposit_proof", "id_number": chen, "fields": ["fund_status"]})
    seal = client.post_json("/api/v1/seal/certificate", {"reference": cert["verify_code"]})
    assert seal["office"] == "东莞市住房公积金管理中心"
    for body, want in (({"service": "no_such_service"}, "backend.unknown_service"),
                       ({"service": "hf_deposit_proof"}, "backend.unknown_service"),  # a cert
                       ({"service": "tr_violations", "id_number": BY_KEY["nobody"].id_number},
                        "backend.no_record"),
                       ({"service": "tr_violations", "fields": ["shoe_size"]},
                        "backend.bad_request")):
        with pytest.raises(BackendError) as err:
            client.post_json("/api/v1/generic/query", {"id_number": chen, "fields": [], **body})
        assert err.value.key == want, (body, err.value.key)
    assert err.value.status == 400 and "unknown_field" in str(err.value)


def test_every_generated_service_is_served_and_its_documents_render(backend: Any) -> None:
    """Each certificate and query service of the data table, for several citizens: the
    platform answers every field its flow asks for, and its A4 certificate, receipt or
    checklist renders with that answer."""
    import tomllib

    from kiosk.backend.client import BackendClient
    from kiosk.documents.a4 import render_a4
    from kiosk.documents.receipt import render_receipt
    from kiosk.flows.package import compose
    from synthetic.citizens import BY_KEY

    client = BackendClient(backend.url, backend.terminal_id, backend.secret)
    pkg = compose([load_package(BUILTIN_DIR, validate_steps=False),
                   load_package(GBA_DIR, validate_steps=False)])
    table = tomllib.loads((GBA_DIR / "src" / "services.toml").read_text("utf-8"))
    served = 0
    for s in table["services"]:
        flow = pkg.flows[s["id"]]
        if s["shape"] == "guide":
            render_receipt(pkg.templates[f"{s['id']}_checklist"],
                           {"terminal": {"id": "T"}, "now": {"datetime": "2026-12-01 09:00"}})
            continue
        query = next(step for step in flow.steps if step.type == "query")
        for who in ("chen", "li", "ouyang"):
            answer = client.post_json(query.params["endpoint"], {
                **query.params["request"], "id_number": BY_KEY[who].id_number})
            assert set(answer["fields"]) == set(s["fields"]), s["id"]
        served += 1
        if s["shape"] == "certificate":
            data = {"record": answer, "identity": {"id_number": "4419**********0000",
                                                   "name": "欧**"},
                    "terminal": {"id": "T"}, "now": {"datetime": "2026-12-01 09:00"}}
            assert render_a4(pkg.templates[f"{s['id']}_a4"], data, pkg.asset).pdf
            render_receipt(pkg.templates[f"{s['id']}_receipt"], data)
    assert served >= 140


def test_the_demo_terminal_runs_the_catalog(tmp_path: Path) -> None:
    """`kiosk demo` without a package repository installs the catalog as the terminal's
    verified active set (with one, scripts/demo publishes it and the terminal polls)."""
    from kiosk.config import Config
    from kiosk.demo import demo_catalog

    cfg = Config().with_section("storage", data_dir=str(tmp_path / "data"))
    active = ["builtin@1.0.0", "gba@1.0.0", "materials@1.0.0"]
    assert demo_catalog(cfg) == active
    assert demo_catalog(cfg) == active  # once
    pkg = PackageManager.from_config(cfg).load_active()
    assert pkg.versions == {"builtin": "1.0.0", "gba": "1.0.0", "materials": "1.0.0"}
    assert len(pkg.flows) >= 297 and "materials_submit" in pkg.flows
