"""`kiosk device camera URI [--seconds S] [--json]`: frame rate and size (nothing is saved)."""

from __future__ import annotations

import argparse
import json
import time


def cmd_camera(args: argparse.Namespace) -> int:
    from kiosk.devices.registry import create_device

    cam = create_device("camera", args.uri)  # a URI it cannot serve: kiosk.cli explains
    cam.open()
    stamps: list[float] = []
    sizes: set[tuple[int, int]] = set()

    def on_frame(frame) -> None:  # type: ignore[no-untyped-def]
        stamps.append(frame.at)
        sizes.add(frame.size)

    unsubscribe = cam.subscribe(on_frame)  # type: ignore[attr-defined]
    try:
        time.sleep(args.seconds)
    finally:
        unsubscribe()
        status = cam.status()
        worker = cam.worker  # type: ignore[attr-defined]
        cam.close()
    fps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 else 0.0
    out = {"uri": args.uri, "state": status.state.value, "frames": len(stamps),
           "fps": round(fps, 1), "sizes": sorted(f"{w}x{h}" for w, h in sizes),
           "lost": worker.lost_count, "regained": worker.regained_count}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"camera {args.uri}: {out['state']}, {out['frames']} frames, {out['fps']} fps, "
              f"size {' '.join(out['sizes']) or '-'}, lost {out['lost']}")
    return 0 if stamps else 1


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = dsub.add_parser("camera", help="capture for a few seconds; print frame rate and size")
    p.add_argument("uri", help="e.g. opencv://0 or opencv:///path/frames/%%03d.png")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_camera, kind="camera")
