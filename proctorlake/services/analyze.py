"""``proctorlake analyze``: run the detectors and the session rules on video files.

Uses exactly what the Spark job uses, so both give the same flags on the same recording:
the file is cut into the same constant-rate H.264 chunks ingest stores
(``proctorlake.storage.video.transcode_to_cfr_chunks`` with ingest's frame rates and the configured
chunk length), sampled with the same ``sample_frames`` (1 per second for the webcam, every
10 s for the screen), analysed by ``models.webcam`` / ``models.screen_apps`` and turned into
flags by ``models.temporal_rules``.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

from models.screen_apps import SCREEN_SAMPLE_EVERY_S, ScreenObservation
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated
from models.temporal_rules import (
    DEFAULT_PARAMS,
    RuleParams,
    flags_to_json,
    observations_to_flags,
)
from models.webcam import WEBCAM_SAMPLE_EVERY_S, WebcamObservation, analyze_webcam_frames
from proctorlake.core.settings import load_settings
from proctorlake.services.ingest import analysis_fps
from proctorlake.storage.video import probe, sample_frames, transcode_to_cfr_chunks

BATCH_FRAMES = 16

_EVERY_S = {"webcam": WEBCAM_SAMPLE_EVERY_S, "screen": SCREEN_SAMPLE_EVERY_S}


def track_observations(
    path: Path,
    track: str,
    scratch: Path,
    progress: Callable[[float], None] | None = None,
) -> list[WebcamObservation] | list[ScreenObservation]:
    """Observations of one track's video, chunked and sampled as ingest + Spark do."""
    out_dir = Path(scratch) / track
    out_dir.mkdir(parents=True, exist_ok=True)
    fps = analysis_fps(track, probe(Path(path)).fps)
    chunks = transcode_to_cfr_chunks(Path(path), out_dir, fps, load_settings().chunk_seconds)
    if track == "screen":
        gate = ScreenChangeGate()  # one per recording: an unchanged screen is read once
        analyze = functools.partial(analyze_screen_frames_gated, gate=gate)
    else:
        analyze = analyze_webcam_frames
    observations: list = []
    for chunk in chunks:
        stamps, frames = [], []
        for t, frame in sample_frames(chunk.path, _EVERY_S[track], offset_s=chunk.start_s):
            stamps.append(t)
            frames.append(frame)
            if len(frames) == BATCH_FRAMES:
                observations += analyze(frames, stamps)
                stamps, frames = [], []
                if progress is not None:
                    progress(t)
        if frames:
            observations += analyze(frames, stamps)
    return observations


def recording_observations(
    webcam_path: Path,
    screen_path: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[list[WebcamObservation], list[ScreenObservation], float]:
    """Per-frame observations of both tracks and the webcam video's length in seconds."""
    info = probe(Path(webcam_path))
    if screen_path is not None:
        probe(Path(screen_path))
    with tempfile.TemporaryDirectory(prefix="proctorlake-analyze-") as scratch:
        webcam = track_observations(Path(webcam_path), "webcam", Path(scratch), progress)
        screen = (
            track_observations(Path(screen_path), "screen", Path(scratch))
            if screen_path is not None
            else []
        )
    return webcam, screen, info.duration_s


def analyze_recording(
    webcam_path: Path,
    screen_path: Path | None = None,
    params: RuleParams = DEFAULT_PARAMS,
    progress: Callable[[float], None] | None = None,
) -> dict:
    """``{"flags": [...], "video_seconds": float}`` for one recording (issue 3's contract).

    Raises ``proctorlake.storage.video.VideoError`` for a file that is not a readable video.
    """
    webcam, screen, seconds = recording_observations(webcam_path, screen_path, progress)
    return flags_to_json(observations_to_flags(webcam, screen, params), seconds)
