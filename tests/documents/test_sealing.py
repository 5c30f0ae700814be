"""E-sealed certificates against the reference platform over HTTP (signing service, TSA),
checked by poppler's `pdfsig` (with an NSS store trusting the demo root) and by ours.

Cases: the sealed certificate; a one-byte change; bytes appended after sealing; a
stranger's CA sealing the same document; a seal certificate of our root that had
expired when it was used; the print step when the signing service fails (nothing
printed until it works again).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import free_port
from kiosk.cli import main as kiosk_main
from kiosk.devices.registry import create_device
from kiosk.documents.sealing import SealedPdf, SealError, seal_pdf
from kiosk.documents.types import RenderedPdf
from kiosk.documents.verify import load_roots, verify_pdf
from kiosk.flows.context import FlowContext
from kiosk.flows.engine import FlowEngine
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import FlowPackage, parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.identity import Identity, IdentitySource
from kiosk.session import Session
from reference_backend.seal import der, make_leaf, make_root, new_key
from synthetic.citizens import BY_KEY

from .conftest import TERMINAL, Platform, render_certificate

pytestmark = pytest.mark.skipif(shutil.which("pdfsig") is None or shutil.which("certutil")
                                is None, reason="poppler-utils / libnss3-tools missing")

OFFICE = "东莞市社会保险基金管理中心"


@pytest.fixture(scope="module")
def platform(seal_platform: Platform) -> Platform:
    return seal_platform


@pytest.fixture(scope="module")
def issued(platform: Platform) -> tuple[dict[str, Any], RenderedPdf]:
    record = platform.issue()
    return record, render_certificate(record)


@pytest.fixture(scope="module")
def sealed(platform: Platform, issued: tuple[dict[str, Any], RenderedPdf],
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    record, doc = issued
    out = seal_pdf(doc, record["verify_code"], platform.client)
    assert isinstance(out, SealedPdf) and out.office == OFFICE
    path = tmp_path_factory.mktemp("sealed") / "certificate.pdf"
    path.write_bytes(out.pdf)
    return path


@pytest.fixture(scope="module")
def nssdb(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS store that trusts the platform's demo root (what pdfsig checks chains against)."""
    d = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{d}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{d}", "-n", "demo-root", "-t", "CT,C,C",
                    "-i", str(platform.root)], check=True)
    return f"sql:{d}"


def pdfsig(nssdb: str, pdf: Path) -> str:
    return subprocess.run(["pdfsig", "-nssdir", nssdb, str(pdf)], capture_output=True,
                          text=True, check=False).stdout


def kiosk_verify(pdf: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    rc = kiosk_main(["document", "verify", str(pdf), "--root", str(root), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


def test_sealed_certificate_passes_pdfsig_and_kiosk_verify(
        platform: Platform, sealed: Path, nssdb: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = pdfsig(nssdb, sealed)
    assert "Signature is Valid." in out, out
    assert "Total document signed" in out, out
    assert "Certificate is Trusted." in out, out
    assert f"Signer Certificate Common Name: {OFFICE}" in out, out
    assert "ETSI.CAdES.detached" in out, out  # PAdES
    rc, verdict = kiosk_verify(sealed, platform.root, capsys)
    assert rc == 0 and verdict["ok"] and verdict["problems"] == [], verdict
    assert verdict["office"] == OFFICE and verdict["signed_at"]  # the TSA's time


def test_one_byte_change_fails_both(platform: Platform, sealed: Path, nssdb: str,
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(sealed.read_bytes())
    at = data.index(b"ReportLab")  # inside the signed range, outside /Contents
    data[at] ^= 0x01
    bad = write(tmp_path, "changed.pdf", bytes(data))
    out = pdfsig(nssdb, bad)
    assert "Signature is Valid." not in out and "Digest Mismatch" in out, out
    rc, verdict = kiosk_verify(bad, platform.root, capsys)
    assert rc == 1 and "modified" in verdict["problems"], verdict


def test_bytes_added_after_sealing_fail_both(platform: Platform, sealed: Path, nssdb: str,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "appended.pdf", sealed.read_bytes() + b"\n% added later\n")
    out = pdfsig(nssdb, bad)
    assert "Total document signed" not in out, out
    rc, verdict = kiosk_verify(bad, platform.root, capsys)
    assert rc == 1 and verdict["problems"] == ["not_whole_file"], verdict


def _local_seal(doc: RenderedPdf, cert: x509.Certificate, key: rsa.RSAPrivateKey,
                chain: list[x509.Certificate], tsa_url: str) -> bytes:
    """Seal with a key held right here (what a stranger, or a stolen old seal, would do)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(der(cert)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(der(c)) for c in chain]))
    meta = signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    w = IncrementalPdfFileWriter(io.BytesIO(doc.pdf), strict=False)
    out = signers.PdfSigner(meta, signer, timestamper=HTTPTimeStamper(tsa_url)).sign_pdf(w)
    return bytes(out.getvalue())


def test_stranger_sealing_the_document_fails_both(
        platform: Platform, issued: tuple[dict[str, Any], RenderedPdf], nssdb: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root_key, key = new_key(), new_key()
    root = make_root(root_key, "莞家政务 演示电子印章根证书 (demo root)")  # same name, other key
    now = dt.datetime.now(dt.UTC)
    cert = make_leaf(root, root_key, key, OFFICE, unit="电子印章 e-seal",
                     not_before=now - dt.timedelta(hours=1), not_after=now + dt.timedelta(days=30))
    pdf = _local_seal(issued[1], cert, key, [root], platform.backend.url + "/tsa")
    bad = write(tmp_path, "stranger.pdf", pdf)
    out = pdfsig(nssdb, bad)
    assert "Signature is Valid." in out, out  # intact, just not ours
    assert "Certificate is Trusted." not in out, out
    rc, verdict = kiosk_verify(bad, platform.root, capsys)
    assert rc == 1 and verdict["problems"] == ["untrusted"], verdict
    assert verdict["office"] == OFFICE  # the name alone proves nothing


def test_seal_expired_when_used_fails_both(
        platform: Platform, issued: tuple[dict[str, Any], RenderedPdf], nssdb: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root_key = serialization.load_pem_private_key((platform.seal_dir / "root.key").read_bytes(),
                                                  None)
    assert isinstance(root_key, rsa.RSAPrivateKey)
    root = x509.load_pem_x509_certificate(platform.root.read_bytes())
    key, now = new_key(), dt.datetime.now(dt.UTC)
    cert = make_leaf(root, root_key, key, OFFICE, unit="电子印章 e-seal",
                     not_before=now - dt.timedelta(days=800), not_after=now - dt.timedelta(days=70))
    pdf = _local_seal(issued[1], cert, key, [root], platform.backend.url + "/tsa")
    bad = write(tmp_path, "expired.pdf", pdf)
    out = pdfsig(nssdb, bad)
    assert "Certificate has Expired" in out and "Certificate is Trusted." not in out, out
    rc, verdict = kiosk_verify(bad, platform.root, capsys)
    assert rc == 1 and verdict["problems"] == ["expired"], verdict


def test_platform_records_what_it_sealed(platform: Platform, issued: tuple[dict[str, Any],
                                                                          RenderedPdf]) -> None:
    """The digest shown by the verification page is the one in the PDF's signature."""
    record, doc = issued
    out = seal_pdf(doc, record["verify_code"], platform.client)
    verdict = verify_pdf(out.pdf, load_roots(platform.root))
    assert verdict.ok and verdict.digest == out.digest
    page = requests.get(record["verify_url"], timeout=5).text
    assert out.digest in page


def test_unreachable_signing_service_is_an_error_value(
        issued: tuple[dict[str, Any], RenderedPdf]) -> None:
    record, doc = issued
    gone = BackendClient(f"http://127.0.0.1:{free_port()}", TERMINAL, b"x" * 32,
                         connect_timeout=1, deadline_s=3)
    with pytest.raises(SealError) as err:
        seal_pdf(doc, record["verify_code"], gone)
    assert err.value.key == "seal.unavailable"


# -- the print step -------------------------------------------------------------------------
A4 = {"kind": "a4", "title": "证明", "blocks": [
    {"type": "title", "text": "社会保险参保缴费证明"},
    {"type": "issuer", "office": "{record.issuer}", "qr": "{record.verify_url}",
     "qr_caption": "验证码 {record.verify_code}"}]}
FLOW = {"id": "cert", "title": "t", "steps": [
    {"id": "preview", "type": "preview", "template": "cert_a4"},
    {"id": "print", "type": "print_a4"}]}


def run_print(platform: Platform, answer: Any, root: Path | None = None
              ) -> tuple[Any, Any, list[Screen]]:
    pkg = FlowPackage(Path("."), "test", "1", "0", {"cert": parse_flow(FLOW, "flows/cert.toml")},
                      {"cert_a4": A4})
    session = Session()
    c = BY_KEY["chen"]
    session.set_identity(Identity(IdentitySource.ID_CARD, c.id_number, c.name))
    session.data["record"] = platform.issue()
    ui = ScriptedInteraction(session.cancel, answer)
    printer = create_device("a4", "sim://")
    printer.open()
    ctx = FlowContext(pkg.flows["cert"], pkg, session, ui, {"a4": printer}, platform.client,
                      terminal={"id": TERMINAL, "seal_root": str(root or platform.root)})
    result = FlowEngine().run(ctx)
    printer.close()
    return result, printer, ui.screens


def test_print_step_prints_only_a_sealed_verified_certificate(platform: Platform) -> None:
    platform.fault("/api/v1/seal/sign", 1)  # the signing service fails once
    errors: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            errors.append(s)
            return Response("retry")
        return None

    result, printer, screens = run_print(platform, answer)
    assert result.outcome == "completed", (result, [(x.kind, x.title) for x in screens])
    assert len(errors) == 1, [(x.kind, x.title) for x in screens]
    assert errors[0].title == "证明暂时无法加盖电子印章"
    assert "没有打印" in errors[0].text
    assert [a.id for a in errors[0].actions] == ["cancel", "retry"]
    assert len(printer.jobs) == 1
    verdict = verify_pdf(printer.jobs[0][1], load_roots(platform.root))
    assert verdict.ok and verdict.office == OFFICE, verdict


def test_print_step_never_prints_unsealed_when_the_seal_service_stays_down(
        platform: Platform) -> None:
    platform.fault("/api/v1/seal/", 5)
    seen: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            seen.append(s)
            return Response("retry" if len(seen) < 2 else "cancel")
        return None

    result, printer, _ = run_print(platform, answer)
    requests.delete(platform.backend.url + "/_admin/services/faults", timeout=5,
                    headers={"X-Admin-Token": platform.admin})
    assert result.outcome == "cancelled", result
    assert len(seen) == 2 and printer.jobs == []
    assert re.search("没有打印", seen[-1].text)


def test_unreachable_time_stamping_service_is_an_error_value(
        platform: Platform, issued: tuple[dict[str, Any], RenderedPdf]) -> None:
    record, doc = issued
    with pytest.raises(SealError) as err:
        seal_pdf(doc, record["verify_code"], platform.client,
                 tsa_url=f"http://127.0.0.1:{free_port()}/tsa", timeout_s=3)
    assert err.value.key == "seal.unavailable"


def test_platform_signs_only_attributes_over_a_digest_naming_its_seal(
        platform: Platform, issued: tuple[dict[str, Any], RenderedPdf]) -> None:
    from asn1crypto import cms

    from kiosk.backend.errors import BackendError

    code = issued[0]["verify_code"]
    no_digest = cms.CMSAttributes([cms.CMSAttribute({"type": "content_type",
                                                     "values": ["data"]})]).dump()
    for attrs in (no_digest, b"not DER"):
        with pytest.raises(BackendError) as err:
            platform.client.post_json("/api/v1/seal/sign", {
                "reference": code, "algorithm": "rsassa_pkcs1v15/sha256",
                "signed_attrs": base64.b64encode(attrs).decode()})
        assert err.value.status == 400 and not err.value.retryable
    with pytest.raises(BackendError) as err:  # a document the platform never issued
        platform.client.post_json("/api/v1/seal/certificate", {"reference": "0000-0000-0000"})
    assert err.value.key == "backend.unknown_document"


def test_print_step_never_prints_a_seal_that_fails_its_own_check(platform: Platform,
                                                                  tmp_path: Path) -> None:
    """The terminal trusts another root than the one the platform's seals chain to (a
    terminal pinned to the wrong root, or a platform answering with a stranger's seal):
    the sealed file fails the terminal's check and is never printed."""
    key = new_key()
    other = tmp_path / "other-root.pem"
    other.write_bytes(make_root(key).public_bytes(serialization.Encoding.PEM))
    seen: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            seen.append(s)
            return Response("cancel")
        return None

    result, printer, _ = run_print(platform, answer, root=other)
    assert result.outcome == "cancelled", result
    assert printer.jobs == []
    assert seen[0].text == "这份证明的电子印章未通过核验，因此本次没有打印。"
