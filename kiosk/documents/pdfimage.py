"""Package images (office seals) encoded for PDF once per file, not once per document.

reportlab's `drawImage(path)` decodes the PNG, checks it for transparency and compresses
and ASCII85-encodes the pixels on every document it is drawn into: ~30 ms of a ~60 ms
certificate, all in pure Python. Here the encoded stream (and its soft mask) is built
once per file version and each document gets its own XObject objects around the same
bytes. The cache holds flow-package assets only (never personal data): it is keyed by
the file's resolved path, size and modification time (a package update or a different
office's seal is a different entry) and keeps at most `CACHE_SIZE` of them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

CACHE_SIZE = 16


@dataclass(frozen=True)
class EncodedImage:
    """One image XObject's stream, ready to be written into any number of PDFs."""

    name: str  # XObject name, from the encoded content: distinct images never share one
    width: int
    height: int
    color_space: str
    bits: int
    filters: tuple[str, ...]
    stream: bytes | str
    mask: tuple[int, ...] | None  # colour-key mask (no alpha channel)
    decode: tuple[int, ...] | None
    smask: EncodedImage | None  # the alpha channel as its own grey image

    def xobject(self) -> pdfdoc.PDFImageXObject:
        """A fresh XObject for one document (registration mutates it, so never share)."""
        # Any: the private attributes set here are not in reportlab's type stubs
        obj: Any = pdfdoc.PDFImageXObject(self.name)  # no source: nothing is decoded here
        obj.width, obj.height = self.width, self.height
        obj.colorSpace, obj.bitsPerComponent = self.color_space, self.bits
        obj._filters = self.filters
        obj.streamContent = self.stream
        obj.mask = list(self.mask) if self.mask else None
        if self.decode:
            obj._decode = list(self.decode)
        return obj


def _freeze(image: pdfdoc.PDFImageXObject) -> EncodedImage:
    obj: Any = image  # reads private attributes that reportlab's type stubs do not list
    smask = getattr(obj, "_smask", None)
    content = obj.streamContent
    digest = hashlib.sha256(content.encode("latin-1") if isinstance(content, str)
                            else content).hexdigest()[:32]
    return EncodedImage(
        name=f"kimg{digest}", width=int(obj.width), height=int(obj.height),
        color_space=obj.colorSpace, bits=int(obj.bitsPerComponent),
        filters=tuple(obj._filters), stream=content,
        mask=tuple(obj.mask) if obj.mask else None,
        decode=tuple(obj._decode) if getattr(obj, "_decode", None) else None,
        smask=_freeze(smask) if smask is not None else None)


_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int, int], EncodedImage] = OrderedDict()


def encoded_image(path: Path) -> EncodedImage:
    """The PDF encoding of the image file at `path` (with an alpha soft mask), cached."""
    resolved = path.resolve()
    st = resolved.stat()
    key = (str(resolved), st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    # Encode outside the lock: two threads may both encode a new file once; same result.
    encoded = _freeze(pdfdoc.PDFImageXObject("seal", str(resolved), mask="auto"))
    with _lock:
        _cache[key] = encoded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return encoded


def cache_size() -> int:
    with _lock:
        return len(_cache)


def draw_encoded(canv: Canvas, image: EncodedImage, x: float, y: float, width: float,
                 height: float) -> None:
    """`canv.drawImage` for an already encoded image: register it in this document once
    (with its soft mask), then place it (same operators drawImage writes)."""
    c: Any = canv  # drawImage's private steps, not in reportlab's type stubs
    doc: Any = c._doc
    reg_name = doc.getXObjectName(image.name)
    if doc.idToObject.get(reg_name) is None:
        obj: Any = image.xobject()  # gets a soft mask: not in reportlab's type stubs
        c._setXObjects(obj)
        doc.Reference(obj, reg_name)
        doc.addForm(image.name, obj)
        if image.smask is not None:
            mask_name = doc.getXObjectName(image.smask.name)
            if doc.idToObject.get(mask_name) is None:
                mask_obj = image.smask.xobject()
                c._setXObjects(mask_obj)
                obj.smask = doc.Reference(mask_obj, mask_name)
            else:
                obj.smask = pdfdoc.PDFObjectReference(mask_name)
    c._currentPageHasImages = 1
    canv.saveState()
    canv.translate(x, y)
    canv.scale(width, height)
    c._code.append(f"/{reg_name} Do")
    canv.restoreState()
    c._formsinuse.append(image.name)
