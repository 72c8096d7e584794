"""Bounds on a video's timeline, checked from packet timestamps before anything is decoded.

Transcoding resamples a recording to a constant rate, so its cost follows the timestamps, not
the file size: a 528-byte WebM with one frame at 0 s and one at 1,000,000 s asks for eleven
days of 15 fps output. Reading the container's packet timestamps (no decoding) costs
milliseconds, so every recording is held to these bounds before it is probed or transcoded.
All bounds derive from the analysis chunk length (``PROCTORLAKE_CHUNK_SECONDS``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av

from proctorlake.storage.video import VideoError

MAX_SOURCE_FPS = 60
"""Browsers record webcams and screens at 60 fps at most; more frames than that per second of
timeline is not a recording this product makes."""
MAX_RECORDING_S = 12 * 3600
"""The longest whole recording ``proctorlake ingest`` takes: the longest exams run 8 hours."""


class VideoTimelineRejected(VideoError):
    """The video's timestamps or frame count exceed the bounds; nothing was decoded."""


@dataclass(frozen=True)
class TimelineLimits:
    max_duration_s: float
    max_frames: int
    max_jump_s: float
    """Longest step between consecutive timestamps: a longer jump would be filled with
    copies of one frozen frame, whole chunks of them."""


@dataclass(frozen=True)
class Timeline:
    duration_s: float
    frames: int


SEGMENT_SLACK_S = 1
"""A MediaRecorder restarted every N seconds delivers segments slightly longer than N."""


def segment_limits(chunk_seconds: int) -> TimelineLimits:
    """An uploaded segment becomes one analysis chunk, so it may last one chunk at most (the
    exam client's segments are 10 s, the default chunk 300 s)."""
    longest = chunk_seconds + SEGMENT_SLACK_S
    return TimelineLimits(longest, longest * MAX_SOURCE_FPS, longest)


def recording_limits(chunk_seconds: int) -> TimelineLimits:
    """A whole recording is cut into chunks: at most ``MAX_RECORDING_S`` long, and no jump
    between frames longer than one chunk."""
    return TimelineLimits(MAX_RECORDING_S, MAX_RECORDING_S * MAX_SOURCE_FPS, chunk_seconds)


def check_timeline(source: Path | bytes, limits: TimelineLimits, name: str) -> Timeline:
    """The span and frame count of the first video stream, or VideoTimelineRejected as soon
    as a bound is passed (VideoError when the container cannot be read)."""
    if isinstance(source, bytes | bytearray):
        if not source:
            raise VideoError(f"{name}: empty or missing file")
        opened = io.BytesIO(source)
    else:
        if not Path(source).is_file() or Path(source).stat().st_size == 0:
            raise VideoError(f"{name}: empty or missing file")
        opened = str(source)
    earliest = latest = None
    frames = 0
    try:
        with av.open(opened) as container:
            if not container.streams.video:
                raise VideoError(f"{name}: no video stream")
            for packet in container.demux(container.streams.video[0]):
                if packet.pts is None or packet.time_base is None:
                    continue  # the demuxer's final flush packet
                t = float(packet.pts * packet.time_base)
                frames += 1
                if earliest is None:
                    earliest = latest = t
                elif t - latest > limits.max_jump_s:
                    raise VideoTimelineRejected(
                        f"{name}: timestamps jump {t - latest:.0f} s at {latest:.1f} s; at most "
                        f"{limits.max_jump_s:g} s (one chunk, PROCTORLAKE_CHUNK_SECONDS) is taken"
                    )
                earliest, latest = min(earliest, t), max(latest, t)
                if latest - earliest > limits.max_duration_s:
                    raise VideoTimelineRejected(
                        f"{name}: lasts more than {limits.max_duration_s:g} s, the most taken"
                    )
                if frames > limits.max_frames:
                    raise VideoTimelineRejected(
                        f"{name}: has more than {limits.max_frames} frames, the most taken"
                    )
    except av.error.FFmpegError as exc:
        raise VideoError(f"{name}: not a readable video ({exc})") from exc
    if earliest is None or latest is None:
        raise VideoError(f"{name}: no decodable frames")
    return Timeline(round(latest - earliest, 3), frames)
