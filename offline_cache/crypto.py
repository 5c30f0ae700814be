"""Payload encryption at rest: AES-256-GCM with a key derived from the terminal's secret.

The key is derived with HKDF-SHA256 from the terminal secret (which lives outside the
outbox database: environment, a secret file or the embedded backend's key file) and the
terminal id. Each payload gets a fresh 96-bit nonce; the item's stream and idempotency
key are bound as associated data, so a ciphertext cannot be moved to another item.
A short key id (`kid`) is stored beside each item so that items written under a
rotated secret are recognised instead of failing obscurely.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
_SALT = b"guanjia-kiosk/offline_cache/v1"


class PayloadKeyError(Exception):
    """A payload cannot be decrypted (wrong key, rotated secret, tampered data)."""


@dataclass(frozen=True)
class PayloadKey:
    kid: str
    _aead: AESGCM = field(repr=False, compare=False)

    @classmethod
    def derive(cls, terminal_secret: bytes, terminal_id: str) -> PayloadKey:
        if not terminal_secret:
            raise ValueError("terminal secret is empty")
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                   info=b"outbox-payload-key|" + terminal_id.encode()).derive(terminal_secret)
        kid = hashlib.sha256(b"kid|" + raw).hexdigest()[:16]
        return cls(kid, AESGCM(raw))

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


def item_aad(stream: str, key: str) -> bytes:
    return f"{stream}\0{key}".encode()
