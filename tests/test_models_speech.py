"""``proctorlake analyze --json`` on webcam recordings with a microphone track: sustained
speech is one ``talking`` flag at its bounds; a room with only a fan and typing raises
nothing."""

from __future__ import annotations

import json

import pytest

from proctorlake.app.cli import main
from proctorlake.samples.audio import RATE, room_track, speech, with_speech
from proctorlake.samples.webcam import Segment, WebcamScript, make_webcam_recording

TEN_SECONDS = (
    "I am reading the second question aloud, because it helps me think. "
    "Now the third part asks about the integral of x squared from zero to one."
)


def _analyze(path, capsys) -> list[dict]:
    assert main(["analyze", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["flags"]


@pytest.fixture(scope="module")
def voice():
    samples = speech(TEN_SECONDS)
    assert 9.0 <= len(samples) / RATE <= 11.5
    return samples


def test_ten_seconds_of_speech_is_one_talking_flag_within_a_second(
    tmp_path, settings, capsys, voice
) -> None:
    script = WebcamScript((Segment("present", 24.0),))
    audio = with_speech(room_track(24.0, seed=3), voice, at_s=7.0)
    recording = make_webcam_recording(
        tmp_path / "talk.webm", script, seed=3, fps=5, codec="libvpx", audio=audio
    )
    talking = [f for f in _analyze(recording.path, capsys) if f["type"] == "talking"]
    end = 7.0 + len(voice) / RATE
    assert len(talking) == 1, talking
    assert abs(talking[0]["start_s"] - 7.0) <= 1.0 and abs(talking[0]["end_s"] - end) <= 1.0
    assert talking[0]["severity"] == "low"


def test_fan_noise_and_keyboard_clicks_raise_nothing(tmp_path, settings, capsys) -> None:
    script = WebcamScript((Segment("present", 24.0),))
    recording = make_webcam_recording(
        tmp_path / "room.mp4", script, seed=4, fps=5, audio=room_track(24.0, seed=4)
    )
    assert _analyze(recording.path, capsys) == []
