"""`kiosk document capture IMAGE... --out FILE.pdf [--json]`: the document camera's
pipeline on photos from a shell.

Each photo becomes one page (the page found, perspective corrected, deskewed, lighting
evened out); the pages become one PDF. Per page it reports the four corners found, in
the source photo's pixels (top-left, top-right, bottom-right, bottom-left), or that no
page outline was seen (the whole photo was used). Exit 0 when every photo showed a
page, 1 when some did not, 2 when a photo cannot be read or the PDF cannot be written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def cmd_capture(args: argparse.Namespace) -> int:
    from kiosk.documents.capture import (
        CaptureError,
        CaptureSettings,
        decode_photo,
        pages_pdf,
        process_photo,
    )

    settings = CaptureSettings(colour=not args.grey)
    pages, report = [], []
    t0 = time.perf_counter()
    try:
        for name in args.images:
            try:
                data = Path(name).read_bytes()
            except OSError as exc:
                raise CaptureError("doccam.bad_photo", f"{name}: {exc.strerror}") from None
            page = process_photo(decode_photo(data), settings)
            pages.append(page)
            report.append({"image": name, **page.to_dict()})
        pdf = pages_pdf(pages, settings.jpeg_quality)
        _write(Path(args.out), pdf)
    except CaptureError as err:
        print(json.dumps({"error": err.key, "detail": err.detail}) if args.json
              else f"document capture: {err.key} {err.detail}", file=sys.stdout if args.json
              else sys.stderr)
        return 2
    except OSError as exc:
        out = {"error": "doccam.write_failed", "detail": f"{args.out}: {exc.strerror}"}
        print(json.dumps(out) if args.json else f"document capture: {out['detail']}")
        return 2
    result: dict[str, Any] = {"out": args.out, "pages": report, "bytes": len(pdf),
                              "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for r in report:
            where = " ".join(f"({x:.0f},{y:.0f})" for x, y in r["corners"]) if r["found"] \
                else "no page outline found: the whole photo was used"
            print(f"{r['image']}: {r['size'][0]}x{r['size'][1]}  {where}")
        print(f"{args.out}: {len(report)} page(s), {len(pdf)} bytes")
    return 0 if all(r["found"] for r in report) else 1


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file, so a failed write never leaves half a PDF."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("capture", help="make a PDF of pages from photos of paper documents")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photos (JPEG, PNG, …)")
    p.add_argument("--out", required=True, metavar="FILE.pdf")
    p.add_argument("--grey", action="store_true", help="grey pages instead of colour")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_capture)
