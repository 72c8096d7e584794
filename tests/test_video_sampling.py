"""Sampling frames for analysis: keyframes alone when ingest put them on the sampled seconds,
decord otherwise; both give decord's own frames, pixel for pixel, at the same timestamps."""

from __future__ import annotations

from pathlib import Path

import av  # noqa: F401  (before decord)
import numpy as np
import pytest

from proctorlake.samples.webcam import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage.video import (
    VideoError,
    _sample_with_decord,
    sample_frames,
    sample_plan,
    write_video,
)

FPS = 5


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """24 s of a real face, moving (each second differs from the next)."""
    script = WebcamScript(
        (Segment("present", 12.0), Segment("turned", 6.0, yaw_deg=40), Segment("absent", 6.0)),
        "astronaut",
        "grace_hopper",
        background_seed=2,
    )
    return list(render_webcam_frames(script, seed=2, fps=FPS, size=(320, 240)))


def _decord_frames(path: Path, every_s: float, offset_s: float) -> list:
    return list(_sample_with_decord(path, sample_plan(path, every_s), offset_s))


def _assert_same(ours: list, theirs: list) -> None:
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("every_s", [1.0, 10.0])
def test_an_ingested_chunk_is_sampled_from_its_keyframes(
    frames: list[np.ndarray], tmp_path: Path, every_s: float
) -> None:
    path = write_video(tmp_path / "chunk.mp4", frames, FPS, gop=FPS)  # as ingest writes it
    plan = sample_plan(path, every_s)
    assert plan.all_keyframes and plan.keyframes == len(frames) // FPS
    # once a second: one pass over the keyframes; once in 10 s: a seek to each sampled one
    assert plan.decode_every_keyframe == (every_s == 1.0)
    ours = list(sample_frames(path, every_s, offset_s=60.0))
    expected_times = [60.0 + s for s in np.arange(0, 24, every_s)]
    assert [t for t, _ in ours] == pytest.approx(expected_times)
    _assert_same(ours, _decord_frames(path, every_s, 60.0))


def test_sampled_frames_that_are_not_keyframes_are_read_by_decord(
    frames: list[np.ndarray], tmp_path: Path
) -> None:
    path = write_video(tmp_path / "sparse.mp4", frames, FPS, gop=3 * FPS)
    plan = sample_plan(path, 1.0)
    assert not plan.all_keyframes
    ours = list(sample_frames(path, 1.0))
    assert len(ours) == 24
    _assert_same(ours, _decord_frames(path, 1.0, 0.0))


def test_a_cut_chunk_is_a_clear_error(frames: list[np.ndarray], tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames, FPS, gop=FPS)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(VideoError, match="cut.mp4"):
        list(sample_frames(cut, 1.0))
