"""E-seals of the reference platform: a demo CA, one seal per issuing office, the remote
signing service and an RFC 3161 time-stamping authority.

The seal keys never leave the platform. A terminal asks for the seal certificate of a
document it was issued (`POST /api/v1/seal/certificate` with the document's verification
code), builds the CMS signed attributes over its PDF's digest with pyHanko, and sends them
(`POST /api/v1/seal/sign`); the platform checks that they carry a message digest and name
the office's seal, records that digest against the document (the verification page shows
it), and answers the RSA PKCS#1 v1.5 / SHA-256 signature. `POST /tsa` answers RFC 3161
time-stamp requests (`application/timestamp-query`), unauthenticated as TSAs are.
`GET /seal/root.pem` is the demo root certificate (public; a real terminal pins its root
at installation, `backend.seal_root`).

Keys and certificates are made on first start: in `$REFBACKEND_SEAL_DIR` when it is set
(private keys 0600, kept across restarts so earlier certificates stay verifiable), else
in memory. Nothing here is committed. Which office seals a document follows from its
kind, never from what the terminal asks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field

from reference_backend.app import ApiError, Platform
from reference_backend.data import ISSUER
from reference_backend.services import FUND_ISSUER, PROPERTY_ISSUER, SS_ISSUER
from synthetic.services import TAX_AUTHORITY

# Document kind (as the platform issued it) -> the office whose seal it carries.
OFFICE_OF_KIND: dict[str, str] = {
    "participation": ISSUER, "payment_detail": ISSUER,
    "ss_participation": SS_ISSUER, "ss_payment_detail": SS_ISSUER,
    "tax_list": TAX_AUTHORITY, "no_property": PROPERTY_ISSUER,
    "fund_repayments": FUND_ISSUER,
}
SEAL_YEARS = 2
ALGORITHM = "rsassa_pkcs1v15/sha256"
MAX_SIGNED_ATTRS = 16 * 1024


def _name(common: str, unit: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "莞家政务 演示平台 (demo)")]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(parts)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_root(key: rsa.RSAPrivateKey, common: str = "莞家政务 演示电子印章根证书 (demo root)",
              years: int = 20) -> x509.Certificate:
    now = _now()
    return (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))


def make_leaf(root: x509.Certificate, root_key: rsa.RSAPrivateKey, key: rsa.RSAPrivateKey,
              common: str, *, unit: str, not_before: dt.datetime, not_after: dt.datetime,
              timestamping: bool = False) -> x509.Certificate:
    """A seal (or TSA) certificate under `root`; tests use it for expired seals too."""
    b = (x509.CertificateBuilder().subject_name(_name(common, unit)).issuer_name(root.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         # digitalSignature + nonRepudiation (content commitment): a seal, not a login key
         .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             root_key.public_key()), False))
    if timestamping:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                            critical=True)
    return b.sign(root_key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


class _Store:
    """Key pairs by name, in a directory (0600 keys) or only in memory."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def load(self, name: str) -> KeyPair | None:
        if self.dir is None or not (self.dir / f"{name}.key").exists():
            return None
        key = serialization.load_pem_private_key((self.dir / f"{name}.key").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return KeyPair(key, x509.load_pem_x509_certificate((self.dir / f"{name}.pem")
                                                           .read_bytes()))

    def save(self, name: str, pair: KeyPair) -> KeyPair:
        if self.dir is not None:
            path = self.dir / f"{name}.key"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pair.key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
            (self.dir / f"{name}.pem").write_bytes(
                pair.cert.public_bytes(serialization.Encoding.PEM))
        return pair


class SealAuthority:
    """The demo CA, the offices' seals (made when first needed, renewed when expired), the TSA."""

    def __init__(self, directory: Path | None = None) -> None:
        self._store = _Store(directory)
        self._lock = threading.Lock()
        self.root = self._store.load("root") or self._new_root()
        self.tsa = self._store.load("tsa") or self._store.save("tsa", self._issue(
            "莞家政务 演示时间戳服务 (demo TSA)", "TSA", timestamping=True, years=10))
        self._seals: dict[str, KeyPair] = {}
        self._stamper: Any = None

    def _new_root(self) -> KeyPair:
        key = new_key()
        return self._store.save("root", KeyPair(key, make_root(key)))

    def _issue(self, common: str, unit: str, *, timestamping: bool = False,
               years: int = SEAL_YEARS) -> KeyPair:
        key, now = new_key(), _now()
        cert = make_leaf(self.root.cert, self.root.key, key, common, unit=unit,
                         not_before=now - dt.timedelta(hours=1),
                         not_after=now + dt.timedelta(days=365 * years),
                         timestamping=timestamping)
        return KeyPair(key, cert)

    @property
    def root_pem(self) -> bytes:
        return self.root.cert.public_bytes(serialization.Encoding.PEM)

    def seal(self, office: str) -> KeyPair:
        """The office's current seal (a new one when there is none or it expired)."""
        with self._lock:
            pair = self._seals.get(office)
            name = "seal-" + hashlib.sha256(office.encode()).hexdigest()[:16]
            pair = pair or self._store.load(name)
            if pair is None or pair.cert.not_valid_after_utc <= _now():
                pair = self._store.save(name, self._issue(office, "电子印章 e-seal"))
            self._seals[office] = pair
            return pair

    def sign(self, office: str, signed_attrs: bytes) -> bytes:
        return self.seal(office).key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())

    def timestamp(self, request_der: bytes) -> bytes:
        req = tsp.TimeStampReq.load(request_der)
        if self._stamper is None:
            self._stamper = _make_tsa(self.tsa, self.root.cert)
        return bytes(self._stamper.request_tsa_response(req).dump())


def _make_tsa(tsa: KeyPair, root: x509.Certificate) -> Any:
    """pyHanko's DummyTimeStamper (it builds RFC 3161 answers), signing with the TSA key
    loaded once: its own loads the key from DER on every request (~85 ms here)."""
    from pyhanko.sign.general import simple_cms_attribute
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class Tsa(DummyTimeStamper):
        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str,
                           dt_: dt.datetime) -> tuple[bytes, cms.CMSAttributes]:
            if md_algorithm != "sha256":
                raise ValueError(f"digest {md_algorithm}")
            from pyhanko.sign import general

            attrs = cms.CMSAttributes([
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt_)})),
                simple_cms_attribute("signing_certificate",
                                     general.as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute("message_digest", hashlib.sha256(tst_info_data).digest()),
            ])
            return tsa.key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256()), attrs

    return Tsa(tsa_cert=asn1_x509.Certificate.load(der(tsa.cert)),
               tsa_key=asn1_keys.PrivateKeyInfo.load(tsa.key.private_bytes(
                   serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                   serialization.NoEncryption())),
               certs_to_embed=SimpleCertificateStore.from_certs(
                   [asn1_x509.Certificate.load(der(root))]))


class CertificateAsk(BaseModel):
    reference: str = Field(min_length=1, max_length=64)  # the document's verification code


class SignAsk(CertificateAsk):
    algorithm: str = Field(max_length=64)
    signed_attrs: str = Field(max_length=MAX_SIGNED_ATTRS)  # base64 DER of SignedAttributes


def _attr(attrs: cms.CMSAttributes, name: str) -> Any:
    for a in attrs:
        if a["type"].native == name:
            return a["values"][0]
    return None


def check_signed_attrs(raw: bytes, seal_cert: bytes) -> bytes:
    """The message digest the attributes carry; refuses attributes naming another seal."""
    try:
        attrs = cms.CMSAttributes.load(raw, strict=True)
        digest = _attr(attrs, "message_digest")
        ctype = _attr(attrs, "content_type")
        signing_cert = _attr(attrs, "signing_certificate_v2")
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "bad_signed_attributes") from exc
    if digest is None or ctype is None or ctype.native != "data" or len(digest.native) != 32:
        raise ApiError(400, "bad_signed_attributes")
    if signing_cert is not None:  # PAdES: the ESS attribute must name this very seal
        ids = [c["cert_hash"].native for c in signing_cert["certs"]]
        if hashlib.sha256(seal_cert).digest() not in ids:
            raise ApiError(400, "wrong_seal")
    return bytes(digest.native)


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    seal_dir = os.environ.get("REFBACKEND_SEAL_DIR", "")
    authority = SealAuthority(Path(seal_dir) if seal_dir else None)
    app.state.seal_authority = authority

    def document(reference: str) -> tuple[dict[str, Any], str]:
        with state.lock:
            doc = state.certificates.get(reference)
        office = (doc.get("office") or OFFICE_OF_KIND.get(doc["kind"], "")) if doc else ""
        if doc is None or not office:
            raise ApiError(404, "unknown_document")
        return doc, office

    def fault_gate(request: Request) -> None:
        """Failures injected through /_admin/services/faults (services.py) apply here too:
        tests make the signing service fail the way a real one does."""
        fault = state.services.take_fault(request.url.path)
        if fault is not None:
            raise ApiError(fault.status, "injected")

    @app.post("/api/v1/seal/certificate",
              dependencies=[Depends(platform.terminal), Depends(fault_gate)])
    def seal_certificate(ask: CertificateAsk) -> dict[str, Any]:
        _, office = document(ask.reference)
        pair = authority.seal(office)
        return {"office": office, "algorithm": ALGORITHM,
                "certificate": base64.b64encode(der(pair.cert)).decode(),
                "chain": [base64.b64encode(der(authority.root.cert)).decode()]}

    @app.post("/api/v1/seal/sign", dependencies=[Depends(fault_gate)])
    def seal_sign(ask: SignAsk, tid: str = Depends(platform.terminal)) -> dict[str, Any]:
        doc, office = document(ask.reference)
        if ask.algorithm != ALGORITHM:
            raise ApiError(400, "unsupported_algorithm")
        try:
            raw = base64.b64decode(ask.signed_attrs, validate=True)
        except ValueError as exc:
            raise ApiError(400, "bad_signed_attributes") from exc
        pair = authority.seal(office)
        digest = check_signed_attrs(raw, der(pair.cert))
        signature = authority.sign(office, raw)
        with state.lock:  # what the platform sealed for this document, for /verify
            doc.setdefault("seals", []).append({
                "digest": digest.hex(), "office": office, "terminal": tid,
                "at": _now().isoformat(), "serial": f"{pair.cert.serial_number:x}"})
        return {"signature": base64.b64encode(signature).decode(), "office": office}

    @app.post("/tsa", include_in_schema=False)
    async def tsa(request: Request) -> Response:
        if request.headers.get("content-type", "") != "application/timestamp-query":
            return Response(status_code=415)
        body = await request.body()
        try:
            answer = authority.timestamp(body)
        except (ValueError, TypeError):
            return Response(status_code=400)
        return Response(answer, media_type="application/timestamp-reply")

    @app.get("/seal/root.pem", include_in_schema=False)
    def root_pem() -> Response:
        return Response(authority.root_pem, media_type="application/x-pem-file")
