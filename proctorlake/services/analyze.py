"""``proctorlake analyze``: run the detectors and the session rules on video files.

Uses exactly what the Spark job uses, so both give the same flags on the same recording:
the file is cut into the same constant-rate H.264 chunks ingest stores
(``proctorlake.storage.video.transcode_to_cfr_chunks`` with ingest's frame rates and the configured
chunk length), sampled with the same ``sample_frames`` (1 per second for the webcam, every
10 s for the screen), analysed by ``models.webcam`` / ``models.screen_apps`` and turned into
flags by ``models.temporal_rules``. The microphone track, when there is one, is heard chunk
by chunk as the Spark job hears it (``chunk_speech_bins``) and becomes ``talking`` flags by
``models.speech``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from models.screen_apps import SCREEN_SAMPLE_EVERY_S, ScreenObservation
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated
from models.speech import SAMPLE_RATE, SpeechBin, speech_bins, speech_probabilities, talking_flags
from models.takeover import EmbeddingSchedule, add_embeddings
from models.temporal_rules import (
    DEFAULT_PARAMS,
    RuleParams,
    flags_to_json,
    observations_to_flags,
)
from models.webcam import WEBCAM_SAMPLE_EVERY_S, WebcamObservation, analyze_webcam_frames
from proctorlake.core.settings import load_settings
from proctorlake.services.ingest import analysis_fps
from proctorlake.storage.video import probe, read_audio, sample_frames, transcode_to_cfr_chunks

BATCH_FRAMES = 16

_EVERY_S = {"webcam": WEBCAM_SAMPLE_EVERY_S, "screen": SCREEN_SAMPLE_EVERY_S}


def chunk_speech_bins(path: Path, offset_s: float) -> list[SpeechBin]:
    """Voice activity of one chunk's microphone track on the session's clock (none without
    a track); the Spark job calls this on each webcam chunk too."""
    samples = read_audio(Path(path), SAMPLE_RATE)
    if samples is None or len(samples) == 0:
        return []
    return speech_bins(speech_probabilities(samples), offset_s)


def track_observations(
    path: Path,
    track: str,
    scratch: Path,
    progress: Callable[[float], None] | None = None,
    speech: list[SpeechBin] | None = None,
) -> list[WebcamObservation] | list[ScreenObservation]:
    """Observations of one track's video, chunked and sampled as ingest + Spark do; given a
    ``speech`` list, each chunk's voice activity is added to it."""
    out_dir = Path(scratch) / track
    out_dir.mkdir(parents=True, exist_ok=True)
    fps = analysis_fps(track, probe(Path(path)).fps)
    chunks = transcode_to_cfr_chunks(Path(path), out_dir, fps, load_settings().chunk_seconds)
    observations: list = []
    for chunk in chunks:
        # One schedule and one screen gate per chunk, as the Spark task keeps them.
        schedule, gate = EmbeddingSchedule(), ScreenChangeGate()
        if speech is not None:
            speech += chunk_speech_bins(chunk.path, chunk.start_s)
        stamps, frames = [], []
        for t, frame in sample_frames(chunk.path, _EVERY_S[track], offset_s=chunk.start_s):
            stamps.append(t)
            frames.append(frame)
            if len(frames) == BATCH_FRAMES:
                observations += _analyze(track, frames, stamps, schedule, gate)
                stamps, frames = [], []
                if progress is not None:
                    progress(t)
        if frames:
            observations += _analyze(track, frames, stamps, schedule, gate)
    return observations


def _analyze(
    track: str, frames: list, stamps: list, schedule: EmbeddingSchedule, gate: ScreenChangeGate
) -> list:
    if track == "screen":
        return analyze_screen_frames_gated(frames, stamps, gate)
    return add_embeddings(analyze_webcam_frames(frames, stamps), frames, schedule)


def recording_observations(
    webcam_path: Path,
    screen_path: Path | None = None,
    progress: Callable[[float], None] | None = None,
    speech: list[SpeechBin] | None = None,
) -> tuple[list[WebcamObservation], list[ScreenObservation], float]:
    """Per-frame observations of both tracks and the webcam video's length in seconds (and,
    given a ``speech`` list, the microphone's voice activity added to it)."""
    info = probe(Path(webcam_path))
    if screen_path is not None:
        probe(Path(screen_path))
    with tempfile.TemporaryDirectory(prefix="proctorlake-analyze-") as scratch:
        webcam = track_observations(Path(webcam_path), "webcam", Path(scratch), progress, speech)
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
    """``{"flags": [...], "video_seconds": float}`` for one recording (issue 3's contract);
    ``talking`` flags come from the microphone track when the file has one.

    Raises ``proctorlake.storage.video.VideoError`` for a file that is not a readable video.
    """
    speech: list[SpeechBin] = []
    webcam, screen, seconds = recording_observations(webcam_path, screen_path, progress, speech)
    flags = observations_to_flags(webcam, screen, params) + talking_flags(speech)
    return flags_to_json(sorted(flags, key=lambda f: (f.start_s, f.type)), seconds)
