"""The face preview's paint path: the capture thread hands over a picture already at the
size it is shown and in 32-bit pixels, so the UI thread only copies it (a scaled RGB888
picture cost it ~2 ms a frame); the guide overlay is drawn once per size and guide. What
the citizen sees is unchanged: mirrored, colours right, the guide on top."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from kiosk.devices.registry import create_device
from kiosk.ui.camera_view import CameraView


@pytest.fixture
def camera():  # type: ignore[no-untyped-def]
    cam = create_device("camera", "sim://?fps=60")
    cam.open()
    yield cam
    cam.close()


def halves() -> np.ndarray:
    img = np.zeros((480, 640, 3), np.uint8)
    img[:, :320] = (0, 0, 255)  # BGR red on the camera's left
    img[:, 320:] = (255, 0, 0)  # blue on its right
    return img


@pytest.mark.parametrize("size,shown", [((960, 720), (960, 720)), ((1000, 600), (800, 600)),
                                        ((1600, 1200), (960, 720))])
def test_the_picture_arrives_at_its_shown_size(qtbot, camera, size, shown) -> None:  # type: ignore[no-untyped-def]
    camera.play([halves()])
    view = CameraView(camera)  # max_width 960: larger screens scale the last step
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitUntil(lambda: view.frames_shown >= 3, timeout=5000)
    img = view._image
    assert img is not None
    assert (img.width(), img.height()) == shown
    assert img.format() == QImage.Format.Format_RGB32
    left, right = QColor(img.pixel(10, shown[1] // 2)), QColor(img.pixel(shown[0] - 10, 10))
    assert left.blue() > 200 and left.red() < 50  # mirrored: the camera's right on the left
    assert right.red() > 200 and right.blue() < 50


def test_the_guide_overlay_is_drawn_once_per_size_and_guide(qtbot, camera) -> None:  # type: ignore[no-untyped-def]
    camera.play([np.full((480, 640, 3), 40, np.uint8)])
    view = CameraView(camera, "center")
    qtbot.addWidget(view)
    view.resize(960, 720)
    view.show()
    qtbot.waitUntil(lambda: view.frames_shown >= 2, timeout=5000)
    first = view._overlay
    assert first is not None
    qtbot.waitUntil(lambda: view.frames_shown >= 6, timeout=5000)
    assert view._overlay is first  # reused while nothing changed
    view.set_guide("left")
    qtbot.waitUntil(lambda: view._overlay is not first, timeout=5000)
    shot = view.grab().toImage()
    amber = [x for x in range(0, shot.width(), 4) for y in range(0, shot.height(), 4)
             if QColor(shot.pixel(x, y)).name() == "#ffc107"]
    assert sum(1 for x in amber if x < shot.width() / 2) > 2 * sum(
        1 for x in amber if x >= shot.width() / 2)  # the arrow points left
    view.hide()
    assert view._overlay is None and view._image is None
