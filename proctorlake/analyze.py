"""``proctorlake analyze``: run the detectors and the session rules on video files.

Uses exactly the models and rules of the Spark job (``models.webcam``,
``models.screen_apps``, ``models.temporal_rules``): frames are sampled with the same
``proctorlake.video.sample_frames`` (1 per second for the webcam, every 10 s for the screen),
analysed in batches, and the session's observations turned into flags.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from models.screen_apps import SCREEN_SAMPLE_EVERY_S, analyze_screen_frames
from models.temporal_rules import DEFAULT_PARAMS, RuleParams, flags_to_json, observations_to_flags
from models.webcam import WebcamObservation, analyze_webcam_frames
from proctorlake.video import probe, sample_frames, transcode_segment_to_cfr_mp4

WEBCAM_SAMPLE_EVERY_S = 1.0
"""One webcam frame per second: each frame is one session-second for the rules."""

BATCH_FRAMES = 32


def _batches(pairs: Iterator, size: int) -> Iterator[tuple[list[float], list]]:
    ts, frames = [], []
    for t, frame in pairs:
        ts.append(t)
        frames.append(frame)
        if len(frames) == size:
            yield ts, frames
            ts, frames = [], []
    if frames:
        yield ts, frames


def webcam_observations(
    path: Path, progress: Callable[[float], None] | None = None
) -> list[WebcamObservation]:
    """Observations of every sampled second of a webcam video."""
    observations: list[WebcamObservation] = []
    for ts, frames in _batches(sample_frames(Path(path), WEBCAM_SAMPLE_EVERY_S), BATCH_FRAMES):
        observations += analyze_webcam_frames(frames, ts)
        if progress is not None:
            progress(ts[-1])
    return observations


def analyze_recording(
    webcam_path: Path,
    screen_path: Path | None = None,
    params: RuleParams = DEFAULT_PARAMS,
    progress: Callable[[float], None] | None = None,
) -> dict:
    """``{"flags": [...], "video_seconds": float}`` for one recording (issue 3's contract)."""
    info = probe(Path(webcam_path))
    with tempfile.TemporaryDirectory(prefix="proctorlake-analyze-") as scratch:
        webcam = webcam_observations(_decodable(Path(webcam_path), Path(scratch)), progress)
        screen = []
        if screen_path is not None:
            screen_file = _decodable(Path(screen_path), Path(scratch))
            for ts, frames in _batches(
                sample_frames(screen_file, SCREEN_SAMPLE_EVERY_S), BATCH_FRAMES
            ):
                screen += analyze_screen_frames(frames, ts)
    flags = observations_to_flags(webcam, screen, params)
    return flags_to_json(flags, info.duration_s)


def _decodable(path: Path, scratch: Path) -> Path:
    """The file itself when it is H.264, else a CFR H.264 copy (decord cannot read browser
    WebM), made the way ingest makes its analysis copies."""
    info = probe(path)
    if info.codec == "h264":
        return path
    target = scratch / f"{path.stem}.{info.codec}.mp4"
    transcode_segment_to_cfr_mp4(path, target, max(1, round(info.fps)))
    return target
