"""The live preview widget: frames from the capture thread, mirrored, guide, no backlog."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtGui import QColor

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


def test_frames_arrive_mirrored(qtbot, camera) -> None:  # type: ignore[no-untyped-def]
    camera.play([halves()])
    view = CameraView(camera)
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitUntil(lambda: view.frames_shown >= 5, timeout=5000)
    img = view._image
    assert img is not None
    assert QColor(img.pixel(10, 10)).blue() > 200  # mirrored: the camera's right on the left
    assert QColor(img.pixel(img.width() - 10, 10)).red() > 200
    assert camera.worker._subscribers
    view.hide()
    assert not camera.worker._subscribers and view._image is None


@pytest.mark.parametrize("guide,side", [("left", "left"), ("right", "right")])
def test_guide_arrow_points_the_way(qtbot, camera, guide: str, side: str) -> None:  # type: ignore[no-untyped-def]
    camera.play([np.full((480, 640, 3), 40, np.uint8)])
    view = CameraView(camera, guide)
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitUntil(lambda: view.frames_shown >= 2, timeout=5000)
    shot = view.grab().toImage()
    amber = [(x, y) for x in range(0, shot.width(), 4) for y in range(0, shot.height(), 4)
             if QColor(shot.pixel(x, y)).name() == "#ffc107"]
    middle = shot.width() / 2
    left = sum(1 for x, _ in amber if x < middle)
    right = len(amber) - left
    # The oval outline is amber on both sides; the filled arrow only on one.
    assert (left > 2 * right) if side == "left" else (right > 2 * left)


def test_busy_ui_thread_gets_the_newest_frame_not_a_backlog(qtbot, camera) -> None:  # type: ignore[no-untyped-def]
    view = CameraView(camera)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.frames_shown >= 2, timeout=5000)
    taken: list[int] = []
    original = view._take

    def counting_take() -> None:
        taken.append(1)
        original()

    view.frameReady.disconnect()
    from PySide6.QtCore import Qt

    view.frameReady.connect(counting_take, Qt.ConnectionType.QueuedConnection)
    before = camera.worker.frames
    time.sleep(0.4)  # the UI thread is busy: about 24 frames arrive meanwhile
    arrived = camera.worker.frames - before
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # deliver what queued up while the UI thread was busy
    assert arrived > 5
    assert view.frames_dropped > 0
    assert len(taken) <= 2  # only the newest picture waited; nothing queued up


def test_flow_view_shows_a_camera_screen_and_lets_go(qtbot, camera) -> None:  # type: ignore[no-untyped-def]
    from kiosk.flows.interaction import Pending
    from kiosk.flows.screens import Screen, ScreenKind
    from kiosk.i18n import Translator
    from kiosk.ui import theme
    from kiosk.ui.flow_view import FlowView

    view = FlowView(theme.metrics_for(1920, 1080), lambda: Translator("zh_CN"))
    qtbot.addWidget(view)
    view.resize(1920, 1000)
    view.show()
    screen = Screen(ScreenKind.CAMERA, "face", "人脸核验", status="请缓慢向左转头",
                    camera=camera, guide="left")
    view.show_screen(Pending(screen, threading.Event()), portrait=False)
    cams = view.findChildren(CameraView)
    assert len(cams) == 1 and cams[0].guide == "left"
    qtbot.waitUntil(lambda: cams[0].frames_shown >= 2, timeout=5000)
    view.clear()
    assert not camera.worker._subscribers  # the preview stopped with its screen
