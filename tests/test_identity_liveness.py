"""Liveness on real faces: a live clip blinks and turns; a held-up photo does neither."""

from __future__ import annotations

import numpy as np
import pytest

from models.identity_pairs import astronaut, carphone_frames, grace_hopper
from models.identity_samples import held_photo_burst
from models.liveness import assess_liveness


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return carphone_frames()


def test_live_person_blinks_and_turns(clip) -> None:
    result = assess_liveness(clip[::2])
    assert result.passed, result
    assert result.blink_detected and result.head_turn_detected
    assert result.min_ear < 0.8 * result.median_ear


def test_live_but_still_window_has_no_blink(clip) -> None:
    result = assess_liveness(clip[0:40])
    assert not result.blink_detected
    assert not result.passed
    assert "no blink" in result.reason


@pytest.mark.parametrize("jitter", [0.03, 0.06])
@pytest.mark.parametrize("who", ["astronaut", "grace_hopper", "carphone_still"])
def test_held_photo_fails(clip, who: str, jitter: float) -> None:
    photo = {"astronaut": astronaut(), "grace_hopper": grace_hopper(), "carphone_still": clip[42]}
    result = assess_liveness(held_photo_burst(photo[who], frames=30, jitter=jitter, seed=5))
    assert result.frames_with_face >= 25
    assert not result.passed, result
    assert not result.blink_detected, result
    if jitter <= 0.03:  # heavy per-frame perspective shake can mimic a small turn (documented)
        assert not result.head_turn_detected, result


def test_static_repeated_selfie_fails() -> None:
    result = assess_liveness([astronaut()] * 12)
    assert not result.passed
    assert result.head_turn_shift == pytest.approx(0.0, abs=1e-9)


def test_burst_without_faces_says_so() -> None:
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(10)]
    result = assess_liveness(noise)
    assert not result.passed and result.frames_with_face == 0
    assert "a face in only 0 of 10 frames" in result.reason
