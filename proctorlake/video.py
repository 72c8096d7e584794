"""Video I/O at the edge: probe, transcode to constant-frame-rate H.264, write, and sample.

Browser recordings (MediaRecorder WebM) have a variable frame rate and no duration, which
decord cannot open; ingest therefore transcodes every chunk to CFR H.264 MP4 with PyAV and
analysis samples those MP4s with decord. ``av`` is imported before ``decord`` on purpose:
importing decord first breaks PyAV's VP8/VP9 encoders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


class VideoError(ValueError):
    """A file that is not a readable video (truncated, empty, wrong format)."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    bitrate_bps: int
    codec: str


def probe(path: Path) -> VideoInfo:
    """Measure a video by decoding it: container headers of browser WebM cannot be trusted."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise VideoError(f"{path.name}: empty or missing file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            first = last = None
            count = 0
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                first = frame.time if first is None else first
                last = frame.time
                count += 1
            width, height, codec = (
                stream.codec_context.width,
                stream.codec_context.height,
                (stream.codec_context.name),
            )
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path.name}: not a readable video ({exc})") from exc
    if count == 0 or first is None or last is None:
        raise VideoError(f"{path.name}: no decodable frames")
    span = last - first
    fps = (count - 1) / span if count > 1 and span > 0 else float(count)
    duration = span + (1.0 / fps if fps > 0 else 0.0)
    bitrate = int(path.stat().st_size * 8 / duration) if duration > 0 else 0
    return VideoInfo(width, height, round(fps, 3), round(duration, 3), count, bitrate, codec)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int, codec: str = "libx264") -> Path:
    """Encode RGB uint8 frames at a constant rate (H.264 MP4, or VP8 WebM with codec 'libvpx')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.width, stream.height = image.shape[1], image.shape[0]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"preset": "veryfast", "crf": "23"}
                else:
                    stream.bit_rate = 1_500_000
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is None:
            raise VideoError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return path


def iter_decoded_frames(
    path: Path, start_s: float = 0.0, end_s: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds, RGB frame) for every decodable frame in [start_s, end_s)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            origin = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                origin = frame.time if origin is None else origin
                t = frame.time - origin
                if t < start_s:
                    continue
                if end_s is not None and t >= end_s:
                    break
                yield t, frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise VideoError(f"{Path(path).name}: not a readable video ({exc})") from exc


def transcode_segment_to_cfr_mp4(
    source: Path, target: Path, fps: int, start_s: float = 0.0, end_s: float | None = None
) -> int:
    """Re-encode [start_s, end_s) of any readable video to constant-rate H.264 MP4.

    Variable-rate input is resampled by holding the latest frame at each output tick, so a
    1-second gap in the source stays 1 second long in the output. Returns frames written.
    """
    written = 0
    half_tick = 0.5 / fps

    def cfr_frames() -> Iterator[np.ndarray]:
        # Output tick k sits at start_s + k/fps and shows the latest source frame at or
        # before it (half a tick of tolerance absorbs timestamp rounding).
        nonlocal written
        tick = 0
        last = None
        for t, image in iter_decoded_frames(source, start_s, end_s):
            while last is not None and start_s + tick / fps + half_tick < t:
                written += 1
                tick += 1
                yield last
            last = image
        if last is None:
            return
        stop = (end_s - start_s) * fps if end_s is not None else tick + 1
        while tick < stop - 1e-6:
            written += 1
            tick += 1
            yield last

    write_video(target, cfr_frames(), fps)
    return written


def sample_frames(
    path: Path, every_s: float = 1.0, offset_s: float = 0.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Sample one RGB frame per ``every_s`` seconds from a CFR MP4 with decord.

    Timestamps are seconds from the file's start plus ``offset_s`` (the chunk's position in
    the session). decord runs single-threaded: it fails on some inputs otherwise.
    """
    import decord

    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except (decord.DECORDError, RuntimeError) as exc:
        raise VideoError(f"{Path(path).name}: decord cannot open it ({exc})") from exc
    fps = float(reader.get_avg_fps()) or 1.0
    total = len(reader)
    step = max(1, round(fps * every_s))
    indices = list(range(0, total, step))
    batch = 32
    for i in range(0, len(indices), batch):
        chunk = indices[i : i + batch]
        frames = reader.get_batch(chunk).asnumpy()
        for index, image in zip(chunk, frames, strict=True):
            yield offset_s + index / fps, image
