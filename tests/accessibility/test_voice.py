"""Spoken guidance through the real espeak-ng, never of personal data."""

from __future__ import annotations

import shutil
import time
import wave
from pathlib import Path

import pytest

from kiosk.voice import VoiceGuide, speakable

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


@pytest.mark.parametrize("text", ["4419**********3627", "陈**", "您的号码 441900198503143627",
                                  "验证码 1234", "  "])
def test_personal_data_is_never_spoken(text: str, tmp_path: Path) -> None:
    assert not speakable(text)
    v = VoiceGuide(sink_dir=tmp_path)
    assert v.speak(text, "zh_CN") is False
    time.sleep(0.2)
    assert list(tmp_path.glob("*.wav")) == [] and v.spoken == []


def _wait_for_wavs(folder: Path, n: int, timeout: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.wav"))
        if len(files) >= n and all(f.stat().st_size > 1000 for f in files):
            return files
        time.sleep(0.05)
    return sorted(folder.glob("*.wav"))


@pytest.mark.parametrize("locale,text", [("zh_CN", "请将身份证放在感应区"),
                                         ("zh_HK", "請將身份證放在感應區"),
                                         ("en", "Place your ID card on the reader")])
def test_prompts_are_spoken_in_each_language(locale: str, text: str, tmp_path: Path) -> None:
    v = VoiceGuide(sink_dir=tmp_path)
    assert v.speak(text, locale)
    files = _wait_for_wavs(tmp_path, 1)
    assert files
    time.sleep(0.3)  # let espeak-ng finish the file
    with wave.open(str(files[0])) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 0.8  # a real utterance, not an empty file
    assert v.spoken == [(text, locale)]


def test_switched_off_says_nothing_but_remembers_for_replay(tmp_path: Path) -> None:
    v = VoiceGuide(enabled=False, sink_dir=tmp_path)
    assert not v.speak("请选择您要办理的业务", "zh_CN")
    v.set_enabled(True)
    assert v.replay()
    assert _wait_for_wavs(tmp_path, 1)
    assert v.spoken == [("请选择您要办理的业务", "zh_CN")]
