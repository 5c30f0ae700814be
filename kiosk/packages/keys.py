"""Ed25519 keys for ops (PEM files) and detached package signatures (`FILE.sig`).

A private key file is PKCS#8 PEM, encrypted with the passphrase in $KIOSK_PACK_PASSPHRASE
when that is set at `kiosk pack keygen` (always do that for the offline root keys). A
public key file is SubjectPublicKeyInfo PEM. Key ids are the TUF key ids, so the same id
names a key in `FILE.sig`, in the repository metadata and in the ops guide's key list.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.signer import CryptoSigner, SSlibKey

PASSPHRASE_ENV = "KIOSK_PACK_PASSPHRASE"
SIG_FORMAT = "guanjia-kiosk-package-signature/1"
_CONTEXT = b"guanjia-kiosk-package/1\n"


class KeyFileError(ValueError):
    """A key file is missing, malformed, not Ed25519 or needs a passphrase."""


class SignatureError(ValueError):
    """A detached signature is missing, malformed, by an unknown key or does not verify."""


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    keyid: str


def tuf_key(public: Ed25519PublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(public)


def keyid_of(public: Ed25519PublicKey) -> str:
    return tuf_key(public).keyid


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def generate(out_dir: Path, name: str, passphrase: bytes | None = None) -> KeyPair:
    """Write NAME.key (0600, never overwritten) and NAME.pub into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    priv = out_dir / f"{name}.key"
    pub = out_dir / f"{name}.pub"
    if priv.exists() or pub.exists():
        raise KeyFileError(f"{priv} or {pub} already exists; refusing to overwrite a key")
    _write_private(priv, key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, enc))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return KeyPair(priv, pub, keyid_of(key.public_key()))


def load_private(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key ({exc.strerror})") from exc
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode()
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        raise KeyFileError(f"{path}: key is encrypted; set ${PASSPHRASE_ENV}"
                        if passphrase is None else f"{path}: {exc}") from exc
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a PEM private key or wrong passphrase") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key ({exc.strerror})") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def signer(private: Ed25519PrivateKey) -> CryptoSigner:
    return CryptoSigner(private, tuf_key(private.public_key()))


def _message(data: bytes) -> tuple[str, bytes]:
    digest = hashlib.sha256(data).hexdigest()
    return digest, _CONTEXT + digest.encode()


def sign_detached(data: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    """The detached signature document for archive bytes."""
    digest, msg = _message(data)
    return {"format": SIG_FORMAT, "keyid": keyid_of(key.public_key()), "sha256": digest,
            "signature": base64.b64encode(key.sign(msg)).decode()}


def verify_detached(data: bytes, sig_doc: bytes | dict[str, str] | None,
                    trusted: list[Ed25519PublicKey]) -> str:
    """Check a detached signature against trusted keys; return the signer's key id."""
    if sig_doc is None:
        raise SignatureError("unsigned: no signature file")
    try:
        doc = json.loads(sig_doc) if isinstance(sig_doc, bytes) else sig_doc
        if doc.get("format") != SIG_FORMAT:
            raise SignatureError(f"unknown signature format {doc.get('format')!r}")
        raw = base64.b64decode(doc["signature"], validate=True)
        keyid = str(doc["keyid"])
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise SignatureError(f"malformed signature file ({exc})") from exc
    digest, msg = _message(data)
    if doc.get("sha256") != digest:
        raise SignatureError("signature is for different content (sha256 differs): "
                             "the archive was modified after signing")
    by_id = {keyid_of(k): k for k in trusted}
    if keyid not in by_id:
        raise SignatureError(f"signed by key {keyid[:16]}…, which is not trusted")
    try:
        by_id[keyid].verify(raw, msg)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc
    return keyid


def write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
