"""Print command for `ippeveprinter -c`: the A4 printer's "engine" in tests and demos.

ippeveprinter runs it once per job with the spooled document as argument and the
job's attributes in IPP_* variables, and reads `STATE: +reason` lines from its
stderr to change printer-state-reasons. A one-shot fault can be armed by writing
its name to CONTROL/fault:

- `paper-out-mid-job`: page 1 comes out, then the tray runs empty; job aborted.
- `jam-mid-job`: paper jams after page 1; job aborted.
- `stall-paper-out`: tray runs empty and the engine waits (up to 3 s) for paper.

Finished jobs are copied to CONTROL/out/job-<id>.pdf (the bytes received).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    control, document = Path(argv[1]), Path(argv[2])
    out = control / "out"
    out.mkdir(parents=True, exist_ok=True)
    job = os.environ.get("IPP_JOB_ID", "0")
    fault_file = control / "fault"
    fault = fault_file.read_text().strip() if fault_file.exists() else ""
    fault_file.unlink(missing_ok=True)
    (control / "log").open("a").write(f"job {job} fault={fault or '-'}\n")
    if fault == "paper-out-mid-job":
        (out / f"job-{job}.partial").write_bytes(b"page 1 of the job only")
        print("STATE: +media-empty-error", file=sys.stderr, flush=True)
        return 1
    if fault == "jam-mid-job":
        (out / f"job-{job}.partial").write_bytes(b"page 1 of the job only")
        print("STATE: +media-jam-error", file=sys.stderr, flush=True)
        return 1
    if fault == "stall-paper-out":
        print("STATE: +media-empty-error", file=sys.stderr, flush=True)
        time.sleep(3)
        return 1
    shutil.copyfile(document, out / f"job-{job}.pdf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
