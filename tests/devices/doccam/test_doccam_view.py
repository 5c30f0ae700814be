"""The document camera's live view: not mirrored (text reads as it lies), an A4 frame as
the guide; the flow screens of capture_document drawn and saved for a person to look at."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor

from kiosk.devices.registry import create_device
from kiosk.ui.camera_view import CameraView

SHOTS = Path(os.environ.get("DOCCAM_SHOTS", "/tmp/doccam-shots"))


def _halves() -> np.ndarray:
    img = np.zeros((480, 640, 3), np.uint8)
    img[:, :320] = (0, 0, 255)  # BGR red on the camera's left
    img[:, 320:] = (255, 0, 0)
    return img


def test_page_guide_is_not_mirrored_and_frames_the_page(qtbot) -> None:  # type: ignore[no-untyped-def]
    cam = create_device("doccam", "sim://?size=640x480&fps=30")
    cam.open()
    try:
        cam.play([_halves()])  # type: ignore[attr-defined]
        view = CameraView(cam, "page")
        qtbot.addWidget(view)
        view.resize(640, 480)
        view.show()
        qtbot.waitUntil(lambda: view.frames_shown >= 3, timeout=5000)
        img = view._image
        assert img is not None
        assert QColor(img.pixel(10, 10)).red() > 200  # as it lies: red stays on the left
        shot = view.grab().toImage()
        # dimmed outside the A4 frame, clear inside it
        assert QColor(shot.pixel(5, 240)).red() < QColor(img.pixel(5, 240)).red() - 20
        assert QColor(shot.pixel(320 - 40, 240)).red() > 200
        view.hide()
    finally:
        cam.close()


def test_capture_screens_render(qtbot) -> None:  # type: ignore[no-untyped-def]
    from kiosk.documents.capture import pages_pdf, process_photo
    from kiosk.flows.interaction import Pending
    from kiosk.flows.screens import Action, Screen, ScreenKind
    from kiosk.i18n import Translator
    from kiosk.ui import theme
    from kiosk.ui.document_view import DocumentView
    from kiosk.ui.flow_view import FlowView

    cam = create_device("doccam", "sim://?size=1200x900&fps=10&scenes=shadow")
    cam.open()
    try:
        t = Translator("zh_CN")
        view = FlowView(theme.metrics_for(1920, 1080), lambda: t)
        qtbot.addWidget(view)
        view.resize(1920, 1000)
        view.show()
        live = Screen(ScreenKind.CAMERA, "pages", t("doccam.title"),
                      text=t("doccam.instructions"), status=t("doccam.page_n", n=1),
                      camera=cam, guide="page",
                      actions=(Action("back", t("common.back")),
                               Action("take", t("doccam.take"), primary=True)))
        view.show_screen(Pending(live, threading.Event()), portrait=False)
        [cv] = view.findChildren(CameraView)
        qtbot.waitUntil(lambda: cv.frames_shown >= 2, timeout=10000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert view.grab().save(str(SHOTS / "doccam-live.png"))
        frame = cam.still(5.0)  # type: ignore[attr-defined]
        assert frame is not None
        page = process_photo(frame.image)
        review = Screen(ScreenKind.PREVIEW, "pages", t("doccam.review_title", n=1),
                        hint=t("doccam.check_page"), document=pages_pdf([page]),
                        actions=(Action("retake", t("doccam.retake")),
                                 Action("add", t("doccam.add_page")),
                                 Action("done", t("doccam.done"), primary=True)))
        view.show_screen(Pending(review, threading.Event()), portrait=False)
        assert len(view.findChildren(DocumentView)) == 1
        qtbot.wait(200)
        assert view.grab().save(str(SHOTS / "doccam-review.png"))
        view.clear()
    finally:
        cam.close()
