"""Payload encryption at rest: AES-256-GCM under the outbox's own data key.

The outbox has a data key of its own: 32 random bytes made on first use and kept in a
file beside the database (`outbox.key`, mode 0600, written once with O_EXCL semantics so
two processes can never make two keys). It is not derived from the terminal's signing
secret, so rotating that secret (a normal operation) cannot make queued items
unreadable. A database whose items are sealed under a data key whose file has gone
missing is an error to report, never a reason to make a new key over them.

Earlier builds derived the key with HKDF-SHA256 from the terminal secret and the
terminal id (`PayloadKey.derive`); items sealed so are re-sealed under the data key when
the outbox is opened with that secret at hand (see `Outbox`), and dead letters left by
an earlier rotation are revived with the previous secret (`kiosk outbox retry-dead
--old-secret-file`).

Each payload gets a fresh 96-bit nonce; the item's stream and idempotency key are bound
as associated data, so a ciphertext cannot be moved to another item. A short key id
(`kid`) is stored beside each item, so the key it needs is found by id.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
KEY_BYTES = 32
_SALT = b"guanjia-kiosk/offline_cache/v1"
KEY_FILE_FORMAT = "guanjia-kiosk outbox data key v1"


class PayloadKeyError(Exception):
    """A payload cannot be decrypted (wrong key, rotated secret, tampered data)."""


class KeyFileError(Exception):
    """The data key file is unreadable or not a key file (detail for the technician)."""


def _kid(raw: bytes) -> str:
    return hashlib.sha256(b"kid|" + raw).hexdigest()[:16]


@dataclass(frozen=True)
class PayloadKey:
    kid: str
    _aead: AESGCM = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: bytes) -> PayloadKey:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a payload key is {KEY_BYTES} bytes, not {len(raw)}")
        return cls(_kid(raw), AESGCM(raw))

    @classmethod
    def derive(cls, terminal_secret: bytes, terminal_id: str) -> PayloadKey:
        """The key earlier builds derived from the terminal secret (legacy items)."""
        if not terminal_secret:
            raise ValueError("terminal secret is empty")
        raw = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT,
                   info=b"outbox-payload-key|" + terminal_id.encode()).derive(terminal_secret)
        return cls.from_raw(raw)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes, kid: str) -> bytes:
        if kid != self.kid:
            raise PayloadKeyError(f"payload sealed with key {kid}, current key is {self.kid}")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise PayloadKeyError("payload failed authentication") from exc


@dataclass(frozen=True)
class Keyring:
    """The key new items are sealed with, and older keys that still open items."""

    current: PayloadKey
    older: tuple[PayloadKey, ...] = ()

    @property
    def kid(self) -> str:
        return self.current.kid

    @property
    def kids(self) -> frozenset[str]:
        return frozenset({self.current.kid, *(k.kid for k in self.older)})

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        return self.current.seal(plaintext, aad)

    def open(self, blob: bytes, aad: bytes, kid: str) -> bytes:
        for key in (self.current, *self.older):
            if key.kid == kid:
                return key.open(blob, aad, kid)
        raise PayloadKeyError(f"payload sealed with key {kid}, which this terminal does not "
                              f"hold (current key is {self.current.kid})")


def keyring(key: PayloadKey | Keyring) -> Keyring:
    return key if isinstance(key, Keyring) else Keyring(key)


@dataclass(frozen=True)
class DataKeyFile:
    """Where the outbox's data key lives, and legacy keys whose items it takes over."""

    path: Path
    legacy: Sequence[PayloadKey] = ()


def load_data_key(path: Path) -> PayloadKey | None:
    """The data key in `path`; None if there is no such file. Loosened permissions are
    tightened again (the key is as secret as the payloads)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"{path}: unreadable: {exc.strerror}") from exc
    try:
        doc = json.loads(text)
        if doc.get("format") != KEY_FILE_FORMAT:
            raise ValueError("not an outbox data key file")
        key = PayloadKey.from_raw(bytes.fromhex(doc["key"]))
        if key.kid != doc.get("kid"):
            raise ValueError("the key does not match its id (damaged file)")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


def create_data_key(path: Path) -> PayloadKey:
    """Make a new random data key in `path` (0600, fsynced); if another process made one
    first, return that one instead (never two keys for one outbox)."""
    raw = os.urandom(KEY_BYTES)
    key = PayloadKey.from_raw(raw)
    body = json.dumps({"format": KEY_FILE_FORMAT, "kid": key.kid, "key": raw.hex()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(body + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if the file exists: the first key made stays
        except FileExistsError:
            existing = load_data_key(path)
            if existing is None:  # pragma: no cover - removed between link and read
                raise KeyFileError(f"{path}: vanished while being created") from None
            return existing
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key


def item_aad(stream: str, key: str) -> bytes:
    return f"{stream}\0{key}".encode()
