"""Decode the card's 1024-byte WLT photo through a vendor library (optional plugin).

No open decoder for the WLT format is known; every reader vendor ships one. We load it
with ctypes from a configured path (`sam+serial://…?wlt=/opt/vendor/libwlt.so`) and
support the two calling conventions seen in public code (`wlt_api=`):

* `unpack` (default): `int unpack(const char *wlt, char *bmp, int flag)` fills a
  caller buffer with a 102x126 24-bit BMP file (flag 602 = with file header) and
  returns 1 on success (Linux `libwlt.so` family). [unconfirmed on hardware]
* `file`: `int Wlt2Bmp(const char *wlt_path, const char *bmp_path)` reads and writes
  files and returns 1 on success (Synjones `libDecodeWlt`, `WltRS`-style libraries).

`wlt_symbol=` overrides the function name. Without a library the reader still works:
the identity carries the undecoded photo with `photo_format="wlt"`.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
from typing import Protocol

BMP_WIDTH, BMP_HEIGHT = 102, 126
BMP_SIZE = 14 + 40 + ((BMP_WIDTH * 3 + 3) // 4 * 4) * BMP_HEIGHT  # 38,862 bytes
UNPACK_FLAG_WITH_HEADER = 602


class PhotoDecodeError(Exception):
    """The vendor library is missing, refused the photo or produced no BMP."""


class PhotoDecoder(Protocol):
    def decode(self, wlt: bytes) -> bytes:
        """Return a BMP file for a 1024-byte WLT photo; raise PhotoDecodeError."""
        ...


class CtypesWltDecoder:
    """A vendor WLT library loaded with ctypes. Calls are serialised: vendor code is rarely
    thread-safe."""

    def __init__(self, path: str, api: str = "unpack", symbol: str = "") -> None:
        if api not in ("unpack", "file"):
            raise PhotoDecodeError(f"unknown wlt_api {api!r}")
        try:
            self._lib = ctypes.CDLL(path)
        except OSError as exc:
            raise PhotoDecodeError(f"cannot load {path}: {exc}") from exc
        name = symbol or ("unpack" if api == "unpack" else "Wlt2Bmp")
        try:
            self._fn = getattr(self._lib, name)
        except AttributeError:
            raise PhotoDecodeError(f"{path} has no function {name}") from None
        self._fn.restype = ctypes.c_int
        if api == "unpack":
            self._fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        else:
            self._fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self.api = api
        self.path = path
        self._lock = threading.Lock()

    def decode(self, wlt: bytes) -> bytes:
        if len(wlt) != 1024:
            raise PhotoDecodeError(f"WLT photo of {len(wlt)} bytes")
        with self._lock:
            bmp = self._unpack(wlt) if self.api == "unpack" else self._via_files(wlt)
        if not bmp.startswith(b"BM") or len(bmp) < 54:
            raise PhotoDecodeError("library returned no BMP")
        return bmp

    def _unpack(self, wlt: bytes) -> bytes:
        out = ctypes.create_string_buffer(BMP_SIZE + 1024)  # slack for sloppy vendors
        rc = self._fn(wlt, out, UNPACK_FLAG_WITH_HEADER)
        if rc != 1:
            raise PhotoDecodeError(f"unpack returned {rc}")
        size = int.from_bytes(out.raw[2:6], "little")
        return out.raw[: size if 54 <= size <= len(out.raw) else BMP_SIZE]

    def _via_files(self, wlt: bytes) -> bytes:
        # Photos are personal data: a private directory, removed straight away.
        with tempfile.TemporaryDirectory(prefix="wlt-") as tmp:
            os.chmod(tmp, 0o700)
            src, dst = os.path.join(tmp, "photo.wlt"), os.path.join(tmp, "photo.bmp")
            with open(src, "wb") as f:
                f.write(wlt)
            rc = self._fn(src.encode(), dst.encode())
            if rc != 1 or not os.path.exists(dst):
                raise PhotoDecodeError(f"Wlt2Bmp returned {rc}")
            with open(dst, "rb") as f:
                return f.read()


def load_decoder(path: str, api: str = "unpack", symbol: str = "") -> PhotoDecoder | None:
    """The configured decoder, or None when no library is configured."""
    if not path:
        return None
    return CtypesWltDecoder(path, api or "unpack", symbol)
