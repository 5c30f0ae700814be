"""The centre's Ed25519 command-signing key: made once, kept 0600, its public half pinned
by every terminal (`[fleet] command_key`).

    DIR/command-key.pem   the private key (PKCS#8 PEM, mode 0600, folder 0700): only the
                          centre reads it; never printed, never logged
    DIR/command-key.pub   the public key as base64 of its 32 raw bytes (one line): what a
                          terminal pins, as that file's path or as the text itself

`init_keys` never replaces an existing key (terminals pin it: a new key would make the
whole fleet refuse every command); it only reports the one that is there. A private key
file that others may read is refused, as ssh refuses one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.fleet import commands_protocol as cp

PRIVATE_FILE = "command-key.pem"
PUBLIC_FILE = "command-key.pub"


class SigningKeyError(Exception):
    """The signing key cannot be made or used (the message says which file and why)."""


@dataclass(frozen=True)
class CommandKey:
    private: Ed25519PrivateKey
    path: Path | None = None

    @property
    def key_id(self) -> str:
        return cp.key_id(self.private.public_key())

    @property
    def public_b64(self) -> str:
        return cp.public_b64(self.private.public_key())

    def __repr__(self) -> str:  # never the key itself, in a log line or a traceback
        return f"CommandKey(key_id={self.key_id!r}, path={str(self.path)!r})"


def default_dir() -> Path:
    return Path(os.environ.get("KIOSK_OPS_KEY_DIR") or "ops-keys")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a file that must not exist yet, in full or not at all (temp name, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if another process made the key meanwhile
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def init_keys(directory: Path) -> tuple[CommandKey, bool]:
    """The key pair in `directory`: made now (True) or the one already there (False)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = directory / PRIVATE_FILE
    public = directory / PUBLIC_FILE
    if private.exists():
        key = load_key(private)
        if not public.exists():
            public.write_text(key.public_b64 + "\n")
        return key, False
    os.chmod(directory, 0o700)
    new = Ed25519PrivateKey.generate()
    try:
        _write_new(private, cp.private_pem(new), 0o600)
    except FileExistsError:
        return load_key(private), False
    key = CommandKey(new, private)
    public.write_text(key.public_b64 + "\n")
    return key, True


def load_key(path: Path | str) -> CommandKey:
    """The private key of `path`; SigningKeyError if missing, readable by others or not
    an Ed25519 PEM."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
        data = p.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{p}: {exc.strerror or exc}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"{p}: others may read it (mode {stat.S_IMODE(st.st_mode):o}); "
                              "chmod 600 it, or make a new key if it leaked")
    try:
        return CommandKey(cp.load_private_pem(data), p)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{p}: not an Ed25519 private key ({exc})") from None
