"""`kiosk face verify REFERENCE PROBE [--json]` and `kiosk face calibrate PAIRS.csv [--json]`.

For technicians calibrating a terminal: the decision and the distance for two photos,
or the false-accept / false-reject counts of a threshold over a file of labelled pairs.
Pictures are read, compared and forgotten; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _threshold(args: argparse.Namespace) -> float:
    from kiosk.face.verify import DEFAULT_THRESHOLD

    return args.threshold if args.threshold is not None else DEFAULT_THRESHOLD


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.face.describer import InProcessDescriber
    from kiosk.face.engine import FaceEngine
    from kiosk.face.types import FaceError
    from kiosk.face.verify import compare, describe_image

    threshold = _threshold(args)
    engine, describer = FaceEngine(), InProcessDescriber()
    t0 = time.perf_counter()
    try:
        ref = describe_image(Path(args.reference), engine, describer)
        probe = describe_image(Path(args.probe), engine, describer)
    except FaceError as err:
        which = "reference" if "ref" not in locals() else "probe"
        out = {"decision": "error", "error": err.key, "detail": err.detail, "image": which}
        print(json.dumps(out) if args.json else f"error ({which}): {err.key} {err.detail}")
        return 2
    m = compare(ref, probe, threshold)
    result: dict[str, object] = {
        "decision": "same" if m.same else "different", "distance": round(m.distance, 4),
        "threshold": threshold, "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['decision']}  distance {result['distance']:.4f}  (threshold {threshold})")
    return 0 if m.same else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    from kiosk.face.types import FaceError
    from kiosk.face.verify import calibrate

    try:
        cal = calibrate(Path(args.pairs), _threshold(args),
                        progress=None if args.json else
                        (lambda n: print(f"  {n}", file=sys.stderr)))
    except (FaceError, OSError) as err:
        print(f"calibrate: {err}", file=sys.stderr)
        return 2
    out = cal.to_dict()
    if args.json:
        out["wrong"] = [{"a": p.a, "b": p.b, "same": p.same, "distance": round(p.distance, 4)}
                        for p in cal.pairs if not p.correct(cal.threshold)]
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:<20} {v}")
    return 0 if cal.false_accepts == cal.false_rejects == 0 else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    face = sub.add_parser("face", help="face verification tools for technicians")
    fsub = face.add_subparsers(dest="face_command", required=True)
    p = fsub.add_parser("verify", help="compare two photos: decision and distance")
    p.add_argument("reference", help="reference photo (e.g. the ID photo)")
    p.add_argument("probe", help="photo to check against it")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
    p = fsub.add_parser("calibrate", help="false accepts/rejects over labelled pairs")
    p.add_argument("pairs", help="CSV img_a,img_b,same (paths relative to the file)")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)
