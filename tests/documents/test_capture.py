"""Document capture on photographs of printed pages with known corners (synthetic.doccam):
the page found under perspective, skew, shadow and clutter, measured against the truth;
the page image flattened and deskewed; pages into one PDF; the shell command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.documents.capture import (
    CaptureError,
    CaptureSettings,
    decode_photo,
    pages_pdf,
    process_photo,
    skew_angle,
)
from synthetic.doccam import SCENES, corner_error, make_photo, page_image

SIZE = (1600, 1200)


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[Any, Any]]:
    return {name: make_photo(i + 1, SIZE, scene) for i, (name, scene) in enumerate(SCENES.items())}


@pytest.fixture(scope="module")
def results(photos: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {name: process_photo(photo) for name, (photo, _) in photos.items()}


def test_page_corners_are_found_within_a_few_pixels_of_the_truth(photos, results) -> None:  # type: ignore[no-untyped-def]
    errors = {}
    for name, (_, truth) in photos.items():
        r = results[name]
        assert r.found, name
        errors[name] = corner_error(r.corners, truth)
    # 1600x1200 photos; the page's short side is 400-600 px. Measured here: 0.55-0.75 px
    # per scene (kiosk bench reports it); the small photo's corners alone (no refinement
    # at full resolution) are 1.4-2.7 px off and fail this.
    assert max(errors.values()) < 1.5, errors
    assert sum(errors.values()) / len(errors) < 1.0, errors


def test_clutter_and_a_white_sheet_beside_the_page_do_not_win(photos, results) -> None:  # type: ignore[no-untyped-def]
    # the white sheet touches the page: one blob in every brightness mask
    _, truth = photos["white_things"]
    assert corner_error(results["white_things"].corners, truth) < 3.0
    assert results["white_things"].size[1] / results["white_things"].size[0] == \
        pytest.approx(np.sqrt(2), abs=0.01)


def _paper_spread(page: Any) -> float:
    """How much the paper's brightness varies over the page (tiles' bright level)."""
    grey = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    m = h // 12
    levels = [float(np.percentile(grey[y:y + h // 6, x:x + w // 4], 90))
              for y in range(m, h - m - h // 6, h // 6) for x in range(m, w - m - w // 4, w // 4)]
    return max(levels) - min(levels)


def test_the_shadow_is_evened_out(photos, results) -> None:  # type: ignore[no-untyped-def]
    photo, _ = photos["shadow"]
    raw = process_photo(photo, CaptureSettings(flatten=False))
    assert _paper_spread(raw.image) > 40  # the shadow is there before flattening
    assert _paper_spread(results["shadow"].image) < 15


def test_print_stays_dark_and_the_seal_red(results) -> None:  # type: ignore[no-untyped-def]
    page = results["hard"].image
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert np.percentile(grey, 50) > 235  # paper is white, also where the shadow was
    assert np.percentile(grey, 0.5) < 80  # print is dark (the photo's: ~70 in the shadow,
    # ~105 out of it: thin strokes at this distance)
    b, g, r = (page[..., i].astype(int) for i in range(3))
    assert int(((r - g > 60) & (r - b > 60)).sum()) > 200  # the red seal keeps its colour


def test_content_printed_askew_is_levelled() -> None:
    page = page_image(700, 0).copy()
    h, w = page.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    tilted = cv2.warpAffine(page, rot, (w, h), borderValue=(255, 255, 255))
    assert skew_angle(tilted) == pytest.approx(-3.0, abs=0.3)
    assert skew_angle(page) == pytest.approx(0.0, abs=0.3)
    # on a photo of that page, the produced page is level again
    desk = np.full((1200, 1600, 3), 60, np.uint8)
    y0, x0 = (1200 - h) // 2, (1600 - w) // 2
    desk[y0:y0 + h, x0:x0 + w] = tilted
    r = process_photo(desk)
    assert r.deskew_deg == pytest.approx(-3.0, abs=0.3)
    assert abs(skew_angle(r.image)) <= 0.3


def test_no_page_outline_uses_the_whole_photo() -> None:
    blank = np.full((600, 800, 3), 128, np.uint8)
    r = process_photo(blank)
    assert not r.found
    assert r.corners == ((0.0, 0.0), (799.0, 0.0), (799.0, 599.0), (0.0, 599.0))


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(CaptureError) as err:
        decode_photo(b"this is not a picture")
    assert err.value.key == "doccam.bad_photo"
    with pytest.raises(CaptureError) as err:
        process_photo(np.zeros((10, 10, 3), np.uint8))
    assert err.value.key == "doccam.bad_photo"
    with pytest.raises(CaptureError) as err:
        pages_pdf([])
    assert err.value.key == "doccam.no_pages"


def test_pages_make_one_pdf_of_a4_pages(results) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    pdf = pages_pdf([results["straight"], results["hard"]])
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    for p in reader.pages:
        assert (round(float(p.mediabox.width)), round(float(p.mediabox.height))) == (595, 842)
        images = list(p.images)
        assert len(images) == 1 and images[0].name.endswith(".jpg")


def test_shell_command_reports_corners_and_writes_the_pdf(  # type: ignore[no-untyped-def]
        photos, tmp_path, capsys) -> None:
    from kiosk.cli import main

    names = ["skewed", "clutter"]
    files = []
    for name in names:
        f = tmp_path / f"{name}.jpg"
        f.write_bytes(cv2.imencode(".jpg", photos[name][0], [cv2.IMWRITE_JPEG_QUALITY, 92])[1]
                      .tobytes())
        files.append(str(f))
    out = tmp_path / "materials.pdf"
    assert main(["document", "capture", *files, "--out", str(out), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [Path(p["image"]).stem for p in answer["pages"]] == names
    for name, page in zip(names, answer["pages"], strict=True):
        assert page["found"]
        assert corner_error(page["corners"], photos[name][1]) < 3.0
    assert out.read_bytes().startswith(b"%PDF-")
    # a photo that cannot be read: exit 2, a key, and no PDF left behind
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    out2 = tmp_path / "other.pdf"
    assert main(["document", "capture", files[0], str(bad), "--out", str(out2), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "doccam.bad_photo"
    assert not out2.exists()
