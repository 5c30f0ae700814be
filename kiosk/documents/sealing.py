"""Seal a rendered certificate with the issuing office's e-seal (PAdES, pyHanko).

The seal's private key stays with the platform. pyHanko prepares the PDF (an incremental
update with an invisible signature field and a reserved /Contents), computes the digest
of its /ByteRange and the CMS signed attributes over it; `RemoteSeal.async_sign_raw`
sends those attributes to the platform's signing service over a signed request
(`/api/v1/seal/sign`, naming the document by its verification code) and embeds the
signature it answers. The signature gets an RFC 3161 timestamp from the platform's
time-stamping service (`<platform>/tsa`), so the result is PAdES B-T.

Errors are `SealError` values with a translation key: `seal.unavailable` (the signing or
time-stamping service could not be reached or failed: try again later),
`seal.refused` (the platform would not seal this document). A caller never falls back
to printing the unsealed PDF as if it were sealed.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509

from kiosk.backend.errors import BackendError
from kiosk.documents.types import RenderedPdf

log = logging.getLogger(__name__)

CERTIFICATE = "/api/v1/seal/certificate"
SIGN = "/api/v1/seal/sign"
ALGORITHM = "rsassa_pkcs1v15/sha256"
FIELD = "Seal"
_STAMPERS: dict[tuple[str, float], Any] = {}  # (TSA URL, timeout) -> pyHanko HTTPTimeStamper
_STAMPERS_LOCK = threading.Lock()


class SealError(Exception):
    """Sealing failed: `key` for the screen, `detail` for the log."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


class Platform(Protocol):
    """What sealing needs of the platform client (kiosk.backend.client.BackendClient)."""

    base_url: str

    def post_json(self, path: str, payload: Any, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class SealedPdf(RenderedPdf):
    """A certificate sealed by `office`; `digest` is the SHA-256 of its signed byte range
    (what the platform recorded, and shows on the verification page)."""

    office: str = ""
    digest: str = ""
    reference: str = ""


def _signer_class() -> type:
    from pyhanko.sign.signers.pdf_cms import Signer

    class RemoteSeal(Signer):
        """A pyHanko signer whose raw signature comes from the platform's signing service."""

        def __init__(self, platform: Platform, reference: str, cert: asn1_x509.Certificate,
                     chain: list[asn1_x509.Certificate]) -> None:
            from pyhanko_certvalidator.registry import SimpleCertificateStore

            super().__init__(signing_cert=cert,
                             cert_registry=SimpleCertificateStore.from_certs([cert, *chain]))
            self.platform, self.reference = platform, reference
            self.size = cert.public_key.byte_size
            self.digest = b""

        async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                                 dry_run: bool = False) -> bytes:
            if dry_run:  # pyHanko sizing the /Contents placeholder
                return bytes(self.size)
            if digest_algorithm != "sha256":
                raise SealError("seal.refused", f"digest {digest_algorithm}")
            from asn1crypto import cms

            for attr in cms.CMSAttributes.load(data):  # the /ByteRange digest it signs
                if attr["type"].native == "message_digest":
                    self.digest = bytes(attr["values"][0].native)
            # blocking, on purpose: pyHanko's sign_pdf runs its own event loop on this
            # (worker) thread, and the platform client is synchronous
            answer = _call(self.platform, SIGN, {
                "reference": self.reference, "algorithm": ALGORITHM,
                "signed_attrs": base64.b64encode(data).decode()})
            signature = base64.b64decode(str(answer.get("signature", "")))
            if len(signature) != self.size:
                raise SealError("seal.refused", f"signature of {len(signature)} bytes")
            return signature

    return RemoteSeal


def _call(platform: Platform, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        answer = platform.post_json(path, payload)
    except BackendError as exc:
        key = "seal.unavailable" if exc.retryable else "seal.refused"
        raise SealError(key, f"{path}: {exc.key} {exc.detail}") from exc
    if not isinstance(answer, dict):
        raise SealError("seal.refused", f"{path}: answer is not an object")
    return answer


def _seal_certificate(platform: Platform, reference: str) -> tuple[str, asn1_x509.Certificate,
                                                                 list[asn1_x509.Certificate]]:
    answer = _call(platform, CERTIFICATE, {"reference": reference})
    if answer.get("algorithm") != ALGORITHM:
        raise SealError("seal.refused", f"algorithm {answer.get('algorithm')!r}")
    try:
        cert = asn1_x509.Certificate.load(base64.b64decode(answer["certificate"]))
        chain = [asn1_x509.Certificate.load(base64.b64decode(c)) for c in answer["chain"]]
        _ = cert.subject.native, [c.subject.native for c in chain]  # parse now, not later
    except (KeyError, TypeError, ValueError) as exc:
        raise SealError("seal.refused", f"certificate answer: {exc}") from exc
    return str(answer.get("office", "")), cert, chain


def seal_pdf(doc: RenderedPdf, reference: str, platform: Platform, *,
             tsa_url: str = "", timeout_s: float = 10.0) -> SealedPdf:
    """Seal `doc` (the platform's document `reference`) with its office's e-seal."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    office, cert, chain = _seal_certificate(platform, reference)
    signer = _signer_class()(platform, reference, cert, chain)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason="电子印章 e-seal", name=office)
    url = tsa_url or platform.base_url.rstrip("/") + "/tsa"
    with _STAMPERS_LOCK:  # kept: pyHanko sizes the signature with one dummy stamp per TSA
        stamper = _STAMPERS.get((url, timeout_s))
        if stamper is None:
            stamper = _STAMPERS[(url, timeout_s)] = HTTPTimeStamper(url, timeout=timeout_s)
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=stamper)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(doc.pdf), strict=False)
        out = asyncio.run(pdf_signer.async_sign_pdf(writer))
    except TimestampRequestError as exc:
        raise SealError("seal.unavailable", f"timestamp: {exc}") from exc
    except SealError:
        raise
    except (SigningError, OSError, ValueError) as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, SealError):
            raise cause from exc
        raise SealError("seal.unavailable", f"{type(exc).__name__}: {exc}") from exc
    assert isinstance(out, io.BytesIO)
    sealed = out.getvalue()
    log.info("sealed %s by %s: %d -> %d bytes", reference, office, len(doc.pdf), len(sealed))
    return SealedPdf(pdf=sealed, pages=doc.pages, office=office,
                     digest=signer.digest.hex(), reference=reference)

