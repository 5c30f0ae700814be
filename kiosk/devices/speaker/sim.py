"""In-process speaker simulator (`sim://`): plays nothing, counts what it was given
(chunks, samples, RMS level of the last second) so a test can prove a voice arrived."""

from __future__ import annotations

from kiosk.devices.speaker.service import SpeakerDevice


class SimSpeaker(SpeakerDevice):
    pass
