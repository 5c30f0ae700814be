"""Every labelled pair of the shared photos is decided correctly at the default threshold."""

from __future__ import annotations

import json

import pytest

from kiosk.cli import main as kiosk_main
from kiosk.face.verify import DEFAULT_THRESHOLD, Agreement, compare


def test_every_pair_is_decided_correctly(calibration) -> None:  # type: ignore[no-untyped-def]
    assert len(calibration.pairs) == 65
    wrong = [(p.a, p.b, round(p.distance, 3)) for p in calibration.pairs
             if not p.correct(DEFAULT_THRESHOLD)]
    assert wrong == []
    assert calibration.false_accepts == 0 and calibration.false_rejects == 0


def test_threshold_sits_inside_the_measured_gap(calibration) -> None:
    assert calibration.same_max < DEFAULT_THRESHOLD < calibration.different_min
    assert abs(calibration.suggested - DEFAULT_THRESHOLD) < 0.05
    d = calibration.to_dict()
    assert d["same_pairs"] == 20 and d["different_pairs"] == 45


def test_a_wrong_threshold_shows_up_as_errors(calibration) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    loose = replace(calibration, threshold=calibration.different_min + 0.01)
    strict = replace(calibration, threshold=calibration.same_max - 0.01)
    assert loose.false_accepts >= 1 and loose.false_rejects == 0
    assert strict.false_rejects >= 1 and strict.false_accepts == 0


def test_rgba_photo_matches_the_same_person(describe) -> None:  # type: ignore[no-untyped-def]
    m = compare(describe("alex_lacamoire_2_rgba.png"), describe("alex_lacamoire_1.jpg"))
    assert m.same
    assert not compare(describe("lin_manuel_miranda_1_rgba.png"), describe("obama_1.jpg")).same


def test_agreement_over_frames() -> None:
    a = Agreement(0.6, required=3, max_mismatches=2)
    assert [a.add(d) for d in (0.4, 0.7, 0.4, 0.45)] == [None, None, None, None]
    assert a.add(0.5) == "accept"
    b = Agreement(0.6, required=3, max_mismatches=2)
    assert [b.add(d) for d in (0.4, 0.7, 0.4, 0.8)] == [None, None, None, "reject"]
    with pytest.raises(ValueError):
        Agreement(required=0)


def test_cli_verify(faces_dir, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = kiosk_main(["face", "verify", str(faces_dir / "obama_2.jpg"),
                     str(faces_dir / "obama_5.jpg"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["decision"] == "same" and out["distance"] < DEFAULT_THRESHOLD
    rc = kiosk_main(["face", "verify", str(faces_dir / "clapton_2.jpg"),
                     str(faces_dir / "lennon_2.jpg")])
    text = capsys.readouterr().out
    assert rc == 1 and text.startswith("different") and "distance" in text
    rc = kiosk_main(["face", "verify", str(faces_dir / "obama_2.jpg"),
                     str(faces_dir / "obama_5.jpg"), "--threshold", "0.05", "--json"])
    assert rc == 1 and json.loads(capsys.readouterr().out)["decision"] == "different"


def test_cli_verify_errors(faces_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(blank)
    rc = kiosk_main(["face", "verify", str(faces_dir / "obama_1.jpg"), str(blank), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 2 and out["error"] == "face.no_face" and out["image"] == "probe"
    rc = kiosk_main(["face", "verify", str(faces_dir / "README.md"), str(blank), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 2 and out["error"] == "face.bad_image" and out["image"] == "reference"
    rc = kiosk_main(["face", "verify", str(tmp_path / "missing.jpg"), str(blank)])
    assert rc == 2 and "face.bad_image" in capsys.readouterr().out


def test_cli_calibrate(faces_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    small = tmp_path / "pairs.csv"
    small.write_text("img_a,img_b,same\n"
                     f"{faces_dir / 'biden_1.jpg'},{faces_dir / 'biden_2.jpg'},1\n"
                     f"{faces_dir / 'biden_1.jpg'},{faces_dir / 'carell_1.jpg'},0\n")
    rc = kiosk_main(["face", "calibrate", str(small), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["pairs"] == 2 and out["false_accepts"] == out["false_rejects"] == 0
    rc = kiosk_main(["face", "calibrate", str(small), "--threshold", "0.1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["false_rejects"] == 1 and out["wrong"][0]["same"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert kiosk_main(["face", "calibrate", str(bad)]) == 2
