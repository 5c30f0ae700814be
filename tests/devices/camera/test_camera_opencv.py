"""OpenCV VideoCapture on image sequences and video files made from the test photos."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from camera_footage import write_sequence, write_video

from kiosk.cli import main as kiosk_main
from kiosk.devices.base import DeviceError, DeviceState


def collect(cam, n: int, timeout: float = 10.0) -> list:  # type: ignore[no-untyped-def]
    got: list = []
    done = threading.Event()

    def on_frame(f) -> None:  # type: ignore[no-untyped-def]
        got.append(f)
        if len(got) >= n:
            done.set()

    unsubscribe = cam.subscribe(on_frame)
    try:
        assert done.wait(timeout), f"only {len(got)} frames"
    finally:
        unsubscribe()
    return got[:n]


def wait_for(cond, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_image_sequence_plays_in_order_and_loops(tmp_path, photo_frames, open_camera) -> None:
    pattern = write_sequence(tmp_path / "seq", photo_frames)
    cam = open_camera(f"opencv://{pattern}?fps=100")
    assert cam.status().state is DeviceState.ONLINE
    frames = collect(cam, 7)
    assert [f.size for f in frames] == [(640, 480)] * 7
    # Lossless PNG: each frame is exactly the picture written, in order, looping.
    for k, f in enumerate(frames):
        assert np.array_equal(f.image, photo_frames[k % 3])
    assert [f.seq for f in frames] == sorted(f.seq for f in frames)
    with pytest.raises(ValueError):
        frames[0].image[0, 0, 0] = 1  # shared with every subscriber: read-only


def test_video_file(tmp_path, photo_frames, open_camera) -> None:  # type: ignore[no-untyped-def]
    path = write_video(tmp_path / "clip.avi", photo_frames * 4)
    cam = open_camera(f"opencv://{path}?fps=100")
    frames = collect(cam, 5)
    assert frames[0].size == (640, 480)
    # MJPEG is lossy: the faces are still there and still the same people.
    from kiosk.face.engine import LIVE, FaceEngine

    engine = FaceEngine()
    faces = [len(engine.analyze(f.image, LIVE, order="bgr").faces) for f in frames[:3]]
    assert faces == [1, 1, 1]


def test_camera_lost_and_regained(tmp_path, photo_frames, open_camera) -> None:
    folder = tmp_path / "seq"
    pattern = write_sequence(folder, photo_frames)
    cam = open_camera(f"opencv://{pattern}?fps=50&retry_ms=50&lost_after=2")
    seen: list = []
    unsubscribe = cam.subscribe(seen.append)
    try:
        assert wait_for(lambda: len(seen) > 3)
        gone = tmp_path / "gone"
        folder.rename(gone)  # unplugged: the source stops giving pictures
        assert wait_for(lambda: cam.status().state is DeviceState.NO_DEVICE)
        assert cam.latest() is None
        assert cam.wait_frame(seen[-1].seq, 0.2) is None
        count = len(seen)
        gone.rename(folder)  # plugged back in
        assert wait_for(lambda: cam.status().state is DeviceState.ONLINE and len(seen) > count)
        assert cam.worker.lost_count == 1 and cam.worker.regained_count == 1
    finally:
        unsubscribe()


def test_capture_runs_only_while_watched(tmp_path, photo_frames, open_camera) -> None:
    pattern = write_sequence(tmp_path / "seq", photo_frames)
    cam = open_camera(f"opencv://{pattern}?fps=100&idle_release_ms=50")
    collect(cam, 3)
    assert wait_for(lambda: not cam.worker._source_open)  # released when nobody watches
    before = cam.worker.frames
    time.sleep(0.2)
    assert cam.worker.frames == before and cam.latest() is None
    assert len(collect(cam, 2)) == 2  # and opened again on demand


def test_missing_device_is_reported_not_raised(open_camera) -> None:  # type: ignore[no-untyped-def]
    cam = open_camera("opencv://9?retry_ms=50")
    assert cam.status().state is DeviceState.NO_DEVICE
    assert cam.self_test().passed is False


@pytest.mark.parametrize("uri", ["opencv://", "opencv://abc", "opencv://0/x",
                                 "opencv:///x.avi?backend=bogus", "opencv:///x.avi?fps=fast",
                                 "sim://?size=big", "sim://?fps=0"])
def test_bad_uris(uri: str) -> None:
    from kiosk.devices.registry import create_device

    with pytest.raises(DeviceError) as err:
        create_device("camera", uri)
    assert err.value.key == "device.unsupported_uri"


def test_sim_camera_scripting(photo_frames, open_camera) -> None:  # type: ignore[no-untyped-def]
    cam = open_camera("sim://?fps=100&retry_ms=50&lost_after=2")
    assert type(cam).__name__ == "SimCamera"
    pattern = collect(cam, 2)
    assert pattern[0].size == (640, 480)
    cam.play(photo_frames[:1], loop=False)
    unsubscribe = cam.subscribe(lambda f: None)
    try:
        assert wait_for(lambda: cam.latest() is not None and
                        np.array_equal(cam.latest().image, photo_frames[0]))
        cam.lose()
        assert wait_for(lambda: cam.status().state is DeviceState.NO_DEVICE)
        cam.regain()
        assert wait_for(lambda: cam.status().state is DeviceState.ONLINE)
    finally:
        unsubscribe()
    with pytest.raises(DeviceError):
        cam.close()
        cam.subscribe(lambda f: None)


def test_cli_camera(tmp_path, photo_frames, capsys) -> None:  # type: ignore[no-untyped-def]
    pattern = write_sequence(tmp_path / "seq", photo_frames)
    rc = kiosk_main(["device", "camera", f"opencv://{pattern}?fps=40", "--seconds", "0.6",
                     "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["frames"] > 5 and out["sizes"] == ["640x480"]
    assert list((tmp_path / "seq").iterdir()) and len(list((tmp_path / "seq").iterdir())) == 3
    rc = kiosk_main(["device", "camera", "opencv://8", "--seconds", "0.2"])
    assert rc == 1 and "no_device" in capsys.readouterr().out


def test_status_cli_guesses_camera() -> None:
    assert kiosk_main(["device", "status", "opencv://9"]) == 1
