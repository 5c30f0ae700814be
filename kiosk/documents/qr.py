"""QR codes on A4 pages: encoded once, drawn as one filled path.

reportlab's `QrCodeWidget` inside a `Drawing` encodes the value twice (once to measure
its bounds, once to draw) and then builds a validated shape object per run of dark
modules. Here reportlab's encoder runs once per code, and the runs go straight onto the
canvas as `re` operators of a single path. Choosing the mask was most of the encoder's
time (it lays out the symbol eight times and scores each in pure Python): the eight
candidates differ only in the data modules, so they are scored together with numpy, by
the encoder's own rules (`QRUtil.getLostPoint`, quirks included), and the symbol is laid
out once with the winner: the same modules as before. Nothing is cached across
documents: the value is a certificate's verification address.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
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


_FINDER_LIKE = np.array([1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0], np.int8)


def _runs_score(m: np.ndarray) -> int:
    """Rule 1 along rows: each run of 5 or more equal modules scores its length - 2."""
    rows, n = m.shape
    change = np.ones((rows, n + 1), bool)
    change[:, 1:n] = m[:, 1:] != m[:, :-1]
    lengths = np.diff(np.flatnonzero(change.ravel()))  # row joints give runs of 1
    long = lengths[lengths >= 5]
    return int((long - 2).sum())


def _finder_score(m: np.ndarray) -> int:
    """Rule 3 along rows, as reportlab scans: 1:1:3:1:1 then four light modules, start
    positions 0 .. n-12 only, 40 each (the pattern cannot overlap itself)."""
    n = m.shape[1]
    if n <= len(_FINDER_LIKE):
        return 0
    windows = sliding_window_view(m, len(_FINDER_LIKE), axis=1)[:, :n - len(_FINDER_LIKE)]
    return 40 * int((windows == _FINDER_LIKE).all(axis=2).sum())


def lost_points(m: np.ndarray) -> int:
    """reportlab's `QRUtil.getLostPoint` of a symbol (0/1 modules), vectorised."""
    score = _runs_score(m) + _runs_score(m.T)
    same = (m[:-1, :-1] == m[1:, :-1]) & (m[:-1, :-1] == m[:-1, 1:]) & \
        (m[:-1, :-1] == m[1:, 1:])
    score += 3 * int(same.sum())
    # Along rows only: reportlab scans columns as tuples against a list pattern, which
    # never compares equal, so its vertical rule 3 always scores 0.
    score += _finder_score(m)
    cells, dark = m.size, int(m.sum())
    return score + 10 * (abs(100 * dark // cells - 50) // 5)


def best_mask(code: qrencoder.QRCode) -> int:
    """The mask reportlab's `getBestMaskPattern` picks (lowest score, first on a tie)."""
    code.makeImpl(True, 0)  # function patterns, blank format bits, data under mask 0
    base = np.array(code.modules, np.int8)
    cols, rows = (np.array(v) for v in zip(*code.dataPosIterator(), strict=True))
    # The encoder's mask functions are arithmetic on (row, column): numpy arrays work.
    masks = [np.asarray(qrencoder.QRUtil.getMask(i)(rows, cols), np.int8) for i in range(8)]
    unmasked = base[rows, cols] ^ masks[0]
    scores = []
    for mask in masks:
        m = base.copy()
        m[rows, cols] = unmasked ^ mask
        scores.append(lost_points(m))
    return int(np.argmin(scores))


def encode_qr(value: str, level: str = "M") -> QrMatrix:
    """Encode `value` with reportlab's encoder (auto version, best mask)."""
    code = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    code.addData(value)
    code.version = code.calculate_version()
    code.makeImpl(False, best_mask(code))
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
