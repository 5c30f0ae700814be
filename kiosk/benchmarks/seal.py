"""E-seal benchmarks, against the reference platform on loopback (its signing service and
RFC 3161 TSA in a child process, as `kiosk demo` runs it).

- `seal_overhead_s`: sealing one rendered certificate (the seal certificate asked for,
  the /ByteRange digest and signed attributes, the remote signature, the timestamp, the
  embedding; `kiosk.documents.sealing.seal_pdf`);
  `seal_overhead_s_baseline`: rendering the same certificate unsigned, in the same run.
- `document_verify_s`: `verify_pdf` on the sealed certificate (in-process, as the print
  step does before printing); `document_verify_cli_s`: `kiosk document verify FILE`, a
  whole process as a technician runs it (interpreter start and imports included).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median(fn: Callable[[], object], repeat: int, warm: bool = True) -> float:
    if warm:  # imports, the office's seal made on first use, the TSA's dummy stamp
        fn()
    samples = []
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 4)


def _certificate(client: Any) -> tuple[dict[str, Any], Callable[[], Any]]:
    from datetime import date

    from flowpacks import BUILTIN_DIR
    from kiosk.documents.a4 import render_a4
    from kiosk.flows.package import load_package
    from synthetic.citizens import BY_KEY

    c = BY_KEY["chen"]
    record = client.post_json("/api/v1/social-security/certificate", {"id_number": c.id_number})
    pkg = load_package(BUILTIN_DIR)
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "DG-BENCH-0001"}, "now": {"date": date.today().isoformat()}}
    return record, lambda: render_a4(pkg.templates["ss_certificate_a4"], data, pkg.asset)


def measure(repeat: int) -> dict[str, float]:
    from kiosk.backend.client import BackendClient
    from kiosk.backend.embedded import EmbeddedBackend
    from kiosk.documents.sealing import seal_pdf
    from kiosk.documents.verify import load_roots, verify_pdf

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-seal-") as tmp:
        seal_dir = Path(tmp) / "seal"
        be = EmbeddedBackend("DG-BENCH-0001", extra_args=["--seal-dir", str(seal_dir)]).start()
        try:
            if not be.wait_ready(30):
                raise RuntimeError("reference backend did not start")
            client = BackendClient(be.url, be.terminal_id, be.secret)
            record, render = _certificate(client)
            doc = render()
            out: dict[str, float] = {
                "seal_overhead_s_baseline": _median(render, repeat),
                "seal_overhead_s": _median(
                    lambda: seal_pdf(doc, record["verify_code"], client), repeat),
            }
            sealed = seal_pdf(doc, record["verify_code"], client)
            roots = load_roots(seal_dir / "root.pem")
            out["document_verify_s"] = _median(lambda: verify_pdf(sealed.pdf, roots), repeat)
            pdf = Path(tmp) / "certificate.pdf"
            pdf.write_bytes(sealed.pdf)
            cmd = [sys.executable, "-m", "kiosk", "document", "verify", str(pdf),
                   "--root", str(seal_dir / "root.pem")]
            out["document_verify_cli_s"] = _median(
                # a whole process each (seconds): three samples are enough for a median
                lambda: subprocess.run(cmd, check=True, capture_output=True), min(repeat, 3),
                warm=False)
            return out
        finally:
            be.stop()
