"""The document camera device kind: stills from a folder of page photos (`seq://`), from
an OpenCV image sequence (`opencv:///…/%03d.jpg`) and from the simulator; the pipeline
finds the page in each within a few pixels of the known corners."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from kiosk.devices.base import DeviceError, DeviceState
from kiosk.devices.doccam.api import DocumentCamera
from kiosk.devices.registry import create_device
from kiosk.documents.capture import process_photo
from synthetic.doccam import SCENES, corner_error, make_photo

NAMES = ("skewed", "shadow", "clutter")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    folder = tmp_path_factory.mktemp("pages")
    truths = []
    for i, name in enumerate(NAMES):
        photo, corners = make_photo(i + 11, (1200, 900), SCENES[name])
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
        truths.append(corners)
    return folder, truths


@pytest.fixture
def open_doccam() -> Iterator[Callable[[str], Any]]:
    opened: list[Any] = []

    def make(uri: str) -> Any:
        dev = create_device("doccam", uri)
        assert isinstance(dev, DocumentCamera)
        dev.open()
        opened.append(dev)
        return dev

    yield make
    for dev in opened:
        dev.close()


def _check_stills(dev: Any, truths: list[Any]) -> None:
    for truth in truths:
        frame = dev.still(5.0)
        assert frame is not None
        page = process_photo(frame.image)
        assert page.found and corner_error(page.corners, truth) < 3.0


def test_folder_of_page_photos_gives_one_still_each_in_order(pages, open_doccam) -> None:  # type: ignore[no-untyped-def]
    folder, truths = pages
    dev = open_doccam(f"seq://{folder}?fps=50&loop=0")
    assert dev.status().state is DeviceState.ONLINE
    _check_stills(dev, truths)
    assert dev.capabilities()["source"] == f"seq:{folder.name}"


def test_opencv_image_sequence(pages, open_doccam) -> None:  # type: ignore[no-untyped-def]
    folder, truths = pages
    dev = open_doccam(f"opencv://{folder}/%03d.jpg?fps=50&loop=0")
    frame = dev.still(5.0)
    assert frame is not None and frame.size == (1200, 900)
    page = process_photo(frame.image)
    assert page.found and min(corner_error(page.corners, t) for t in truths) < 3.0


def test_still_is_never_a_frame_from_before_the_call(pages, open_doccam) -> None:  # type: ignore[no-untyped-def]
    folder, _ = pages
    dev = open_doccam(f"seq://{folder}?fps=50")
    first = dev.still(5.0)
    second = dev.still(5.0)
    assert first is not None and second is not None and second.seq > first.seq


def test_simulator_shows_page_photos_and_a_retake_sees_the_next(open_doccam) -> None:  # type: ignore[no-untyped-def]
    dev = open_doccam("sim://?size=1200x900&fps=20&scenes=straight,hard")
    a = dev.still(10.0)
    b = dev.still(10.0)
    assert a is not None and b is not None
    pa, pb = process_photo(a.image), process_photo(b.image)
    assert pa.found and pb.found
    assert corner_error(pa.corners, pb.corners) > 20  # two different photos
    dev.lose()
    deadline = time.monotonic() + 10
    got = dev.still(1.0)
    while got is not None and time.monotonic() < deadline:  # frames in flight
        got = dev.still(1.0)
    assert got is None
    assert dev.status().state is DeviceState.NO_DEVICE
    dev.regain()
    assert dev.still(10.0) is not None
    assert dev.status().state is DeviceState.ONLINE


def test_an_empty_folder_is_no_device(tmp_path, open_doccam) -> None:  # type: ignore[no-untyped-def]
    dev = open_doccam(f"seq://{tmp_path}")
    assert dev.status().state is DeviceState.NO_DEVICE
    assert "not available" in dev.status().message


@pytest.mark.parametrize("uri", ["seq://pages", "seq:///tmp/x?fsp=3", "sim://?scenes=nope",
                                 "sim://?size=10x10", "opencv://", "usb://0"])
def test_bad_uris_are_refused_with_a_reason(uri: str) -> None:
    with pytest.raises(DeviceError) as err:
        create_device("doccam", uri)
    assert err.value.key in ("device.unsupported_uri", "device.unknown_parameter")
    assert err.value.detail
