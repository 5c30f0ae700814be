"""QR codes on A4 pages: encoded once, drawn as one filled path.

reportlab's `QrCodeWidget` inside a `Drawing` encodes the value twice (once to measure
its bounds, once to draw; each encoding tries all eight mask patterns) and then builds
a validated shape object per run of dark modules. The same encoder (so the same
modules: byte-identical symbols) is used here once per code, and the runs go straight
onto the canvas as `re` operators of a single path. Nothing is cached across documents:
the value is a certificate's verification address.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

QUIET_ZONE = 4  # modules of white border on each side (what QrCodeWidget draws)


@dataclass(frozen=True)
class QrMatrix:
    """The dark runs of one encoded symbol: (row, first column, length) each."""

    size: int  # modules per side
    runs: tuple[tuple[int, int, int], ...]


def encode_qr(value: str, level: str = "M") -> QrMatrix:
    """Encode `value` with reportlab's encoder (auto version, best mask)."""
    code = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    code.addData(value)
    code.make()
    runs = []
    for r, row in enumerate(code.modules):
        c = 0
        for dark, group in itertools.groupby(bool(m) for m in row):
            n = len(list(group))
            if dark:
                runs.append((r, c, n))
            c += n
    return QrMatrix(code.getModuleCount(), tuple(runs))


def draw_qr(canv: Canvas, matrix: QrMatrix, x: float, y: float, size: float) -> None:
    """Draw the symbol with its quiet zone in the square of side `size` at (x, y)."""
    box = size / (matrix.size + 2 * QUIET_ZONE)
    path = canv.beginPath()
    for r, c, n in matrix.runs:
        path.rect(x + (c + QUIET_ZONE) * box, y + size - (r + QUIET_ZONE + 1) * box,
                  n * box, box)
    canv.saveState()
    canv.setFillColor(colors.black)
    canv.drawPath(path, stroke=0, fill=1)
    canv.restoreState()


class QrFlowable(Flowable):
    """A QR code of `size_mm` square as a platypus flowable (table cells)."""

    def __init__(self, value: str, size_mm: float = 28, level: str = "M") -> None:
        super().__init__()
        self.matrix = encode_qr(value, level)
        self.width = self.height = size_mm * mm

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        draw_qr(self.canv, self.matrix, 0, 0, self.width)
