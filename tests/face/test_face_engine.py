"""Detection, multi-face handling, missing faces, image formats, model lookup and laziness."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kiosk.face.engine import STILL, DetectOptions
from kiosk.face.image import load_image, to_rgb
from kiosk.face.types import FaceError, Landmarks5, MultiFacePolicy
from kiosk.face.verify import compare, describe_image


def test_multi_face_largest_is_taken(engine, describer, describe, faces_dir) -> None:
    photo = faces_dir / "multi_two_faces.jpg"
    analysis = engine.analyze(load_image(photo), STILL)
    assert len(analysis.faces) == 2
    assert analysis.faces[0].box.area > analysis.faces[1].box.area
    largest = describe_image(photo, engine, describer)
    # Each face is someone different; the largest is the one chosen.
    small = describer.describe([engine.chip(analysis, analysis.faces[1])])[0]
    big = describer.describe([engine.chip(analysis, analysis.faces[0])])[0]
    assert compare(largest, big).distance < 1e-6
    assert not compare(big, small).same


def test_multi_face_refused_when_asked(engine, faces_dir) -> None:  # type: ignore[no-untyped-def]
    refuse = DetectOptions(policy=MultiFacePolicy.REFUSE, retry_upsampled=True)
    with pytest.raises(FaceError) as err:
        engine.find_face(load_image(faces_dir / "multi_two_faces.jpg"), refuse)
    assert err.value.key == "face.multiple_faces"


def _face_crop(engine, path, side: int = 360) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The photo cropped around its face, resized so the face is about side/2 wide."""
    rgb = load_image(path)
    analysis, face = engine.find_face(rgb, STILL)
    b = face.box.scaled(1 / analysis.scale)
    m = b.width // 2
    crop = rgb[max(0, b.top - m):b.bottom + m, max(0, b.left - m):b.right + m]
    return np.asarray(Image.fromarray(crop).resize((side, side)))


def test_two_faces_of_similar_size_are_ambiguous(engine, faces_dir) -> None:
    side = np.full((480, 800, 3), 90, np.uint8)
    side[60:420, 20:380] = _face_crop(engine, faces_dir / "obama_1.jpg")
    side[60:420, 420:780] = _face_crop(engine, faces_dir / "biden_2.jpg")
    analysis = engine.analyze(side, STILL)
    assert len(analysis.faces) == 2
    with pytest.raises(FaceError) as err:
        engine.select(analysis, STILL)  # LARGEST, but the two are too close to call
    assert err.value.key == "face.multiple_faces"


def test_no_face(engine) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    wall = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    with pytest.raises(FaceError) as err:
        engine.find_face(wall, STILL)
    assert err.value.key == "face.no_face"


def test_face_too_small(engine, faces_dir) -> None:  # type: ignore[no-untyped-def]
    far = np.asarray(Image.open(faces_dir / "obama_1.jpg").convert("RGB").resize((205, 256)))
    with pytest.raises(FaceError) as err:
        engine.find_face(far, DetectOptions(upsample=1, min_face_px=80))
    assert err.value.key == "face.face_too_small"


def test_rgba_input_file_and_array(engine, describer, faces_dir) -> None:
    raw = (faces_dir / "lin_manuel_miranda_1_rgba.png").read_bytes()
    with Image.open(io.BytesIO(raw)) as im:
        assert im.mode == "RGBA"
        rgba = np.asarray(im)
    rgb = load_image(raw)
    assert rgb.shape == (*rgba.shape[:2], 3)
    from_file = describe_image(raw, engine, describer)
    from_array = describe_image(rgba, engine, describer)  # 4 channels straight from a caller
    assert compare(from_file, from_array).distance < 0.02
    # BGR(A) order from OpenCV gives the same face.
    bgra = np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]])
    from_bgra = describe_image(bgra, engine, describer, order="bgr")
    assert compare(from_file, from_bgra).distance < 0.02


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:, :32] = (10, 20, 30, 255)
    out = to_rgb(rgba)
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[0, 63]) == (255, 255, 255)


def test_grey_and_float_arrays() -> None:
    grey = np.full((50, 60), 128, np.uint8)
    assert to_rgb(grey).shape == (50, 60, 3)
    assert to_rgb(np.full((50, 60, 3), 0.5, np.float32))[0, 0, 0] == 127


@pytest.mark.parametrize("bad,key", [
    (b"not an image", "face.bad_image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "face.bad_image"),
])
def test_bad_image_bytes(bad: bytes, key: str) -> None:
    with pytest.raises(FaceError) as err:
        load_image(bad)
    assert err.value.key == key


def test_bad_arrays() -> None:
    with pytest.raises(FaceError):
        to_rgb(np.zeros((10, 10, 3), np.uint8))  # too small to hold a face
    with pytest.raises(FaceError):
        to_rgb(np.zeros((64, 64, 2), np.uint8))
    with pytest.raises(ValueError):
        to_rgb(np.zeros((64, 64, 3), np.uint8), order="hsv")


def test_exif_orientation_is_applied(engine, describer, describe, faces_dir, tmp_path) -> None:
    with Image.open(faces_dir / "biden_2.jpg") as im:
        rotated = im.convert("RGB").rotate(90, expand=True)
        exif = Image.Exif()
        exif[0x0112] = 6  # stored turned a quarter left: "rotate 90 CW to view"
        buf = io.BytesIO()
        rotated.save(buf, "JPEG", exif=exif.tobytes())
    d = describe_image(buf.getvalue(), engine, describer)
    assert compare(d, describe("biden_2.jpg")).same


def test_yaw_ratio_ignores_position_scale_and_roll() -> None:
    base = Landmarks5(((140.0, 100.0), (120.0, 100.0), (60.0, 100.0), (80.0, 100.0),
                       (106.0, 140.0)))
    y = base.yaw_ratio
    assert y == pytest.approx(6 / 60)
    moved = Landmarks5(tuple((x * 2.5 + 40, yy * 2.5 - 7) for x, yy in base.points))
    assert moved.yaw_ratio == pytest.approx(y)
    c, s = np.cos(0.4), np.sin(0.4)
    rolled = Landmarks5(tuple((x * c - yy * s, x * s + yy * c) for x, yy in base.points))
    assert rolled.yaw_ratio == pytest.approx(y)
    with pytest.raises(ValueError):
        Landmarks5(((0.0, 0.0),))


def test_models_found_without_importing_their_package() -> None:
    code = ("import sys; from kiosk.face.models import models_dir; d = models_dir(); "
            "print(d.name, 'face_recognition_models' in sys.modules, 'pkg_resources' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["models", "False", "False"]


def test_missing_models_are_a_clear_error(tmp_path) -> None:
    code = ("from kiosk.face.models import models_dir\nfrom kiosk.face.types import FaceError\n"
            "import importlib.util\nimportlib.util.find_spec = lambda n: None\n"
            "try:\n    models_dir()\nexcept FaceError as e:\n    print(e.key)\n")
    env = {"KIOSK_FACE_MODELS": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env).stdout.strip()
    assert out == "face.models_missing"


def test_kiosk_start_does_not_load_face_models() -> None:
    code = ("import sys, kiosk.runtime, kiosk.flows.steps, kiosk.devices.registry as r\n"
            "from kiosk.config import Config\n"
            "ds = r.DeviceSet.from_config(Config().devices); ds.open_all(); ds.close_all()\n"
            "print(sorted(m for m in ('dlib', 'cv2', 'kiosk.face.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert "dlib" not in out and "kiosk.face.engine" not in out
