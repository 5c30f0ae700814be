"""Spoken guidance (offline TTS through espeak-ng), never of personal data.

Why espeak-ng: it is a Debian package that works fully offline, speaks Mandarin
(`cmn`), Cantonese (`yue`) and English from one engine, starts in milliseconds, and
needs no model download (neural engines such as Piper need voice files fetched from a
hub; Qt TextToSpeech needs speech-dispatcher and a desktop session). Its voice is
robotic but clear for short prompts, which is all a kiosk says.

Speech runs on its own thread (a subprocess per prompt); a new prompt interrupts the
previous one. `sink_dir` writes WAV files instead of playing (tests, audits).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)

VOICES = {"zh_CN": "cmn", "zh_HK": "yue", "en": "en"}
# Digits runs, masks and ID-number shapes never leave the speaker.
_PERSONAL = re.compile(r"\d{4,}|\*|[0-9]{17}[0-9Xx]")


def speakable(text: str) -> bool:
    """True if a prompt is safe to say aloud (no numbers, no masked personal data)."""
    return bool(text.strip()) and not _PERSONAL.search(text)


class VoiceGuide:
    """Says one prompt at a time on a worker thread; the newest prompt wins."""

    def __init__(self, *, enabled: bool = True, engine: str = "espeak-ng", rate: int = 150,
                 sink_dir: Path | None = None) -> None:
        self.engine = shutil.which(engine)
        self.enabled = enabled
        self.rate = rate
        # 0-100, espeak-ng's amplitude (100 is its default); set by a remote command.
        self.volume = 100
        self.sink_dir = sink_dir
        self.last: tuple[str, str] | None = None
        self.spoken: list[tuple[str, str]] = []  # in the order asked (never personal)
        self._cond = threading.Condition()
        self._pending: tuple[str, str, int] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._counter = 0
        self._worker: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.engine is not None

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self.stop()

    def speak(self, text: str, locale: str) -> bool:
        """Say a prompt (interrupting the previous one). Returns whether it will be spoken."""
        if not speakable(text):
            if text.strip():
                log.warning("voice: refused a prompt that looks like personal data")
            return False
        self.last = (text, locale)
        if not self.enabled or self.engine is None:
            return False
        with self._cond:
            self._counter += 1
            self._pending = (text, locale, self._counter)
            self.spoken.append((text, locale))
            self._kill_current()
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, daemon=True, name="voice")
                self._worker.start()
            self._cond.notify()
        return True

    def set_volume(self, level: int) -> None:
        """The next prompts' loudness, 0-100 (the one being spoken keeps its own)."""
        self.volume = max(0, min(100, int(level)))

    def speaking(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    def replay(self) -> bool:
        if self.last is None:
            return False
        return self.speak(*self.last)

    def stop(self) -> None:
        with self._cond:
            self._pending = None
            self._kill_current()

    def _kill_current(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None:
                    if not self._cond.wait(30.0) and self._pending is None:
                        self._worker = None  # idle: the next prompt starts a new worker
                        return
                text, locale, n = self._pending
                self._pending = None
                cmd = [str(self.engine), "-v", VOICES.get(locale, "cmn"), "-s", str(self.rate),
                       "-a", str(self.volume)]
                if self.sink_dir is not None:
                    self.sink_dir.mkdir(parents=True, exist_ok=True)
                    cmd += ["-w", str(self.sink_dir / f"prompt-{n:04d}.wav")]
                cmd.append(text)
                try:
                    self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL)
                except OSError as exc:
                    log.warning("voice: cannot start %s: %s", self.engine, exc)
                    self._proc = None
                    continue
                proc = self._proc
            proc.wait()
