"""Verify a sealed certificate PDF: signature, chain to the trusted root, timestamp, and
that the file is exactly what was sealed (pyHanko's validator).

A certificate passes only when all of these hold:

- it has exactly one signature, it is intact (the /ByteRange digest matches) and valid;
- the signature covers the whole file (nothing appended or changed after sealing);
- it carries an RFC 3161 signature timestamp that is intact, valid and chains to a
  trusted root;
- the seal certificate chains to a configured root and was valid at the timestamp's
  time (a seal that had expired, or was not yet valid, when the document was stamped
  fails as `expired`).

Revocation is not checked (the demo CA publishes no CRL or OCSP; `soft-fail`).
Problems are short keys (`not_signed`, `modified`, `not_whole_file`, `untrusted`,
`expired`, `no_timestamp`, `timestamp_invalid`, `bad_signature`, `unreadable`,
`several_signatures`); the terminal, `kiosk document verify` and the platform's
verification page all use this function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asn1crypto on first use: `seal_dir` / `trusted_root` run at start-up
    from asn1crypto import x509 as asn1_x509


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problems: tuple[str, ...] = ()
    office: str = ""  # the seal certificate's common name
    signed_at: str = ""  # the timestamp's time (ISO 8601, UTC)
    digest: str = ""  # SHA-256 of the signed byte range, hex
    file_sha256: str = ""
    detail: str = ""  # for the log and --json; never shown to a citizen

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def load_roots(path: str | Path) -> list[asn1_x509.Certificate]:
    """Root certificates from a PEM (or DER) file."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    data = Path(path).read_bytes()
    if pem.detect(data):
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [asn1_x509.Certificate.load(data)]


def verify_pdf(data: bytes, roots: Sequence[asn1_x509.Certificate]) -> Verdict:
    """Check a sealed PDF against `roots`; never raises on a bad file."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    file_sha = hashlib.sha256(data).hexdigest()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return Verdict(False, ("unreadable",), file_sha256=file_sha, detail=str(exc))
    if not sigs:
        return Verdict(False, ("not_signed",), file_sha256=file_sha)
    try:
        return _check(sigs, roots, file_sha)
    except (PdfError, ValueError, KeyError, TypeError) as exc:  # a CMS blob that is not one
        return Verdict(False, ("bad_signature",), file_sha256=file_sha,
                       detail=f"{type(exc).__name__}: {exc}")


def _context(roots: Sequence[asn1_x509.Certificate], moment: dt.datetime | None) -> Any:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=list(roots), allow_fetching=False,
                             revocation_mode="soft-fail", moment=moment)


def _check(sigs: Sequence[Any], roots: Sequence[asn1_x509.Certificate],
           file_sha: str) -> Verdict:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    sig = sigs[-1]
    status = validate_pdf_signature(sig, _context(roots, None), _context(roots, None))
    problems: list[str] = []
    if len(sigs) > 1:
        problems.append("several_signatures")
    if not status.intact:
        problems.append("modified")
    elif not status.valid:
        problems.append("bad_signature")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        problems.append("not_whole_file")
    ts = status.timestamp_validity
    signed_at = ""
    if ts is None:
        problems.append("no_timestamp")
    elif not (ts.intact and ts.valid and ts.trusted):
        problems.append("timestamp_invalid")
    else:
        signed_at = ts.timestamp.astimezone(dt.UTC).isoformat()
        # the seal is judged at the time the TSA vouches for, not today: a certificate
        # sealed last year stays valid when the seal has since been renewed
        status = validate_pdf_signature(sig, _context(roots, ts.timestamp),
                                        _context(roots, None))
    if status.intact and status.valid and not status.trusted:
        indic = str(status.trust_problem_indic or "")
        problems.append("expired" if ("EXPIRED" in indic or "OUT_OF_BOUNDS" in indic
                                      or "NOT_YET_VALID" in indic) else "untrusted")
    cert = status.signing_cert
    office = str(cert.subject.native.get("common_name", "")) if cert is not None else ""
    digest = sig.compute_digest().hex() if status.intact else ""
    return Verdict(not problems, tuple(problems), office=office, signed_at=signed_at,
                   digest=digest, file_sha256=file_sha,
                   detail=str(status.trust_problem_indic or ""))


def seal_dir(cfg: Any) -> Path:
    """Where the embedded reference platform keeps its demo CA and seals."""
    return Path(cfg.data_dir) / "seal"


def trusted_root(cfg: Any) -> Path | None:
    """The configured root of the platform's e-seals (`backend.seal_root`); with the
    embedded platform, its demo root; None: this terminal does not seal."""
    if cfg.backend.seal_root:
        return Path(cfg.backend.seal_root).expanduser()
    if cfg.backend.url == "embedded":
        return seal_dir(cfg) / "root.pem"
    return None
