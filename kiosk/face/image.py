"""Pictures in, RGB arrays out: EXIF orientation, alpha, grey, BGR, size limits."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kiosk.face.types import FaceError

MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
MIN_SIDE = 32


def load_image(source: bytes | bytearray | str | Path) -> np.ndarray:
    """Decode an image file (bytes or path) into an RGB uint8 array.

    Applies the EXIF orientation (ID and platform photos are often rotated by a tag)
    and composites transparent pictures onto white.
    """
    try:
        fp: Any = io.BytesIO(source) if isinstance(source, bytes | bytearray) else \
            open(source, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise FaceError("face.bad_image", f"cannot open: {exc.strerror}") from None
    try:
        with fp, Image.open(fp) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise FaceError("face.bad_image",
                                f"{opened.width}x{opened.height} is too large")
            im: Image.Image = ImageOps.exif_transpose(opened)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and
                                                   "transparency" in im.info):
                rgba = im.convert("RGBA")
                back = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(back, rgba)
            return to_rgb(np.asarray(im.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FaceError("face.bad_image", type(exc).__name__) from None


def to_rgb(image: Any, order: str = "rgb") -> np.ndarray:
    """An array as contiguous RGB uint8: from grey, RGB/BGR, RGBA/BGRA (`order`)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and float(np.nanmax(a)) <= 1.0:
            a = np.clip(a * 255.0, 0, 255)
        a = np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise FaceError("face.bad_image", f"unsupported array shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (a[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if order == "bgr":
        a = a[:, :, ::-1]
    elif order != "rgb":
        raise ValueError(f"order must be rgb or bgr, not {order!r}")
    if min(a.shape[:2]) < MIN_SIDE:
        raise FaceError("face.bad_image", f"{a.shape[1]}x{a.shape[0]} is too small")
    return np.ascontiguousarray(a)


def fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most `max_side`; return (image, scale)."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if max_side <= 0 or longest <= max_side:
        return image, 1.0
    s = max_side / longest
    im = Image.fromarray(image).resize((max(1, round(w * s)), max(1, round(h * s))),
                                       Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(im)), s
