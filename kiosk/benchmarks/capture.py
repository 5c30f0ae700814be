"""Document capture benchmarks (高拍仪): the pipeline on a 12-megapixel photo, and how far
the corners it finds are from the truth on the synthetic test photos.

- `capture_pipeline_s_12mp`: one 4000x3000 photo of a printed page (synthetic.doccam's
  "hard" scene: tilt, perspective, shadow, clutter, noise) to the clean page image:
  find, refine, warp, flatten, deskew. `_baseline`: the plainest part of the same work,
  a bare perspective warp of that photo to an A4 page at the same size (known corners).
- `capture_page_jpeg_s`: encoding that page as the JPEG that goes into the PDF.
- `capture_corner_error_px_mean` / `_max`: over every scene in synthetic.doccam.SCENES
  at 1600x1200 (the tests' photos); `_12mp` the same on the 12-megapixel photo.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def _median(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(max(repeat, 3)):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 4)


def measure(repeat: int) -> dict[str, float]:
    import cv2
    import numpy as np

    from kiosk.documents.capture import CaptureSettings, page_size, process_photo
    from synthetic.doccam import SCENES, corner_error, make_photo

    photo, truth = make_photo(5, (4000, 3000), SCENES["hard"])
    settings = CaptureSettings()
    result = process_photo(photo, settings)
    pw, ph = page_size(truth, settings.max_side)
    target = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float32)
    m = cv2.getPerspectiveTransform(truth.astype(np.float32), target)

    def bare_warp() -> object:
        return cv2.warpPerspective(photo, m, (pw, ph), flags=cv2.INTER_AREA)

    errors = []
    for i, scene in enumerate(SCENES.values()):
        small, corners = make_photo(i + 1, (1600, 1200), scene)
        errors.append(corner_error(process_photo(small).corners, corners))
    return {
        "capture_pipeline_s_12mp": _median(lambda: process_photo(photo, settings), repeat),
        "capture_pipeline_s_12mp_baseline": _median(bare_warp, repeat),
        "capture_page_jpeg_s": _median(lambda: result.jpeg(settings.jpeg_quality), repeat),
        "capture_corner_error_px_mean": round(float(np.mean(errors)), 2),
        "capture_corner_error_px_max": round(float(np.max(errors)), 2),
        "capture_corner_error_px_12mp": round(corner_error(result.corners, truth), 2),
    }
