"""`python -m reference_backend --port 8700` (terminals from $REFBACKEND_TERMINALS)."""

from __future__ import annotations

import argparse
import os
import sys


def parse_terminals(spec: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        tid, _, hexsecret = item.partition(":")
        out[tid] = bytes.fromhex(hexsecret)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="reference_backend", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8700)
    ap.add_argument("--public-url", default="")
    ap.add_argument("--seal-dir", default="",
                    help="keep the demo CA and e-seals here ($REFBACKEND_SEAL_DIR)")
    args = ap.parse_args(argv)
    if args.seal_dir:
        os.environ["REFBACKEND_SEAL_DIR"] = args.seal_dir
    terminals = parse_terminals(os.environ.get("REFBACKEND_TERMINALS", ""))
    if not terminals:
        print("REFBACKEND_TERMINALS is empty (format: TERMINAL_ID:HEXSECRET,...)",
              file=sys.stderr)
        return 2
    import uvicorn

    from reference_backend.app import create_app

    app = create_app(terminals, args.public_url or f"http://{args.host}:{args.port}",
                     admin_token=os.environ.get("REFBACKEND_ADMIN_TOKEN", ""))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
