"""Video I/O at the edge: probe, transcode to constant-frame-rate H.264, write, and sample.

Browser recordings (MediaRecorder WebM) have a variable frame rate and no duration, which
decord cannot open; ingest therefore transcodes every chunk to CFR H.264 MP4 with PyAV, a
keyframe every second, and analysis samples those MP4s by decoding their keyframes alone
(decord for any other file). ``av`` is imported before ``decord`` on purpose: importing
decord first breaks PyAV's VP8/VP9 encoders.

Phones store portrait video as landscape sensor frames plus a rotation in the container's
display matrix. Every PyAV read goes through :func:`upright`, so the transcoded chunks (and
everything read from them: analysis, the batch path, the dashboard's thumbnails) hold the
picture as a player shows it; decord applies the same matrix itself (a test holds the two
equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 16000
"""Microphone tracks are analysed as 16 kHz mono (what the voice activity model takes)."""


class VideoError(ValueError):
    """A file that is not a readable video (truncated, empty, wrong format)."""


@dataclass(frozen=True)
class VideoInfo:
    """Width and height as displayed (after the display matrix's rotation)."""

    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    bitrate_bps: int
    codec: str
    rotation_deg: int = 0


def display_rotation(frame: av.VideoFrame) -> int:
    """The counter-clockwise turn (0, 90, 180 or 270) the container's display matrix asks for.

    Phones write -90 for a portrait recording; angles between quarter turns (never written by
    cameras) snap to the nearest one.
    """
    return round(float(frame.rotation or 0) / 90.0) % 4 * 90


def upright(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    """The decoded picture turned as a player shows it (``rotation_deg`` counter-clockwise)."""
    turns = round(rotation_deg / 90.0) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


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
            count = rotation = 0
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if first is None:
                    first, rotation = frame.time, display_rotation(frame)
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
    if rotation in (90, 270):
        width, height = height, width
    span = last - first
    fps = (count - 1) / span if count > 1 and span > 0 else float(count)
    duration = span + (1.0 / fps if fps > 0 else 0.0)
    bitrate = int(path.stat().st_size * 8 / duration) if duration > 0 else 0
    return VideoInfo(
        width, height, round(fps, 3), round(duration, 3), count, bitrate, codec, rotation
    )


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    codec: str = "libx264",
    gop: int | None = None,
    display_rotation_deg: int = 0,
    audio: tuple[np.ndarray, int] | None = None,
) -> Path:
    """Encode RGB uint8 frames at a constant rate (H.264 MP4, or VP8 WebM with codec 'libvpx').

    ``gop`` sets the keyframe interval in frames (None: the encoder's default).
    ``display_rotation_deg`` stores the frames as a phone does: turned back by that angle, with
    a display matrix that turns them upright again (the frames given are what a player shows).
    ``audio`` is (mono float samples in [-1, 1], sample rate): a microphone track (AAC in MP4,
    Opus in WebM, as browsers record it) starting with the first frame.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = audio_stream = None
        for image in frames:
            stored = upright(image, -display_rotation_deg)
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                if display_rotation_deg % 360:
                    stream.set_display_rotation(display_rotation_deg)
                if audio is not None:
                    audio_codec = "aac" if codec == "libx264" else "libopus"
                    audio_stream = container.add_stream(audio_codec, rate=48000, layout="mono")
                stream.width, stream.height = stored.shape[1], stored.shape[0]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    # sc_threshold 0: no extra scene-cut keyframes, so keyframes stay on every
                    # ``gop``-th frame (the analysis seeks to each second).
                    stream.options = {"preset": "veryfast", "crf": "23", "sc_threshold": "0"}
                else:
                    stream.bit_rate = 1_500_000
                    # libvpx's default "good" deadline cost ~250 ms of CPU a frame here and
                    # its worker threads spin; realtime mode on one thread costs ~7 ms
                    # (browsers encode in realtime mode too).
                    stream.options = {"deadline": "realtime", "cpu-used": "8", "threads": "1"}
                if gop:
                    stream.codec_context.gop_size = gop
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is None:
            raise VideoError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None and audio is not None:
            _mux_audio(container, audio_stream, *audio)
    return path


def _mux_audio(container, stream, samples: np.ndarray, rate: int) -> None:
    """Encode mono samples in the encoder's frame size (AAC and Opus refuse longer frames)."""
    resampler = av.AudioResampler(
        format=stream.format.name, layout="mono", rate=stream.rate, frame_size=stream.frame_size
    )
    pcm = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate, frame.pts = rate, 0
    for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
        for packet in stream.encode(resampled):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def read_audio(path: Path, rate: int = 16000) -> np.ndarray | None:
    """The first audio track as mono float32 samples at ``rate`` (None when the file has no
    audio). Sample 0 is the track's first sample; a browser recording starts its audio and
    video tracks together, so its seconds are the video's seconds."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts = []
            for frame in container.decode(stream):
                frame.pts = None  # browsers' WebM timestamps jitter; the samples are contiguous
                parts += [r.to_ndarray().reshape(-1) for r in resampler.resample(frame)]
            parts += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
    except av.error.FFmpegError as exc:
        raise VideoError(f"{Path(path).name}: not a readable recording ({exc})") from exc
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def iter_decoded_frames(
    path: Path, start_s: float = 0.0, end_s: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds, RGB frame as displayed) for every decodable frame in [start_s, end_s)."""
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
                yield t, upright(frame.to_ndarray(format="rgb24"), display_rotation(frame))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{Path(path).name}: not a readable video ({exc})") from exc


def iter_cfr_frames(source: Path, fps: int) -> Iterator[np.ndarray]:
    """Resample any readable video to a constant rate, in one decoding pass.

    Output tick k sits at k/fps and shows the latest source frame at or before it (half a
    tick of tolerance absorbs timestamp rounding), so a gap in a variable-rate source keeps
    its length in the output.
    """
    half_tick = 0.5 / fps
    tick = 0
    last = None
    for t, image in iter_decoded_frames(source):
        while last is not None and tick / fps + half_tick < t:
            tick += 1
            yield last
        last = image
    if last is not None:
        yield last


@dataclass(frozen=True)
class TranscodedChunk:
    index: int
    start_s: float
    end_s: float
    path: Path
    frame_count: int


def transcode_to_cfr_chunks(
    source: Path, out_dir: Path, fps: int, chunk_seconds: int
) -> list[TranscodedChunk]:
    """Re-encode a recording as constant-rate H.264 MP4 chunks of ``chunk_seconds``.

    One decoding pass for the whole file; each chunk has a keyframe every second so analysis
    can seek to each sampled second without decoding the frames in between. A microphone
    track is kept: each chunk carries its seconds of it (AAC), so analysis listens to the same
    chunk it watches.
    """
    audio = read_audio(Path(source), AUDIO_RATE)
    per_chunk = fps * chunk_seconds
    chunks: list[TranscodedChunk] = []
    frames = iter_cfr_frames(Path(source), fps)
    index = 0
    while True:
        first = next(frames, None)
        if first is None:
            break
        count = 0

        def this_chunk(first: np.ndarray = first) -> Iterator[np.ndarray]:
            nonlocal count
            count = 1
            yield first
            for image in frames:
                count += 1
                yield image
                if count == per_chunk:
                    return

        path = Path(out_dir) / f"{index:05d}.mp4"
        start = index * chunk_seconds
        track = None
        if audio is not None and len(audio) > start * AUDIO_RATE:
            track = (audio[start * AUDIO_RATE : (start + chunk_seconds) * AUDIO_RATE], AUDIO_RATE)
        write_video(path, this_chunk(), fps, gop=fps, audio=track)
        chunks.append(TranscodedChunk(index, start, start + count / fps, path, count))
        index += 1
    return chunks


SAMPLE_BATCH = 32
"""Frames decoded per decord reader (the fallback): decord's reader keeps a decoding thread
spinning (~60% of a core, measured) for as long as it is open, so it is opened per batch and
closed before the frames go to the detectors."""


MAX_KEYFRAMES_PER_SAMPLE_IN_ONE_PASS = 2


@dataclass(frozen=True)
class SamplePlan:
    """Which frames a sampling takes, found from the packets alone (nothing decoded)."""

    fps: float
    indices: tuple[int, ...]  # frame numbers in presentation order
    pts: tuple[int, ...]  # their presentation timestamps, in the stream's time base
    all_keyframes: bool  # every sampled frame decodes alone
    keyframes: int  # in the whole file

    @property
    def decode_every_keyframe(self) -> bool:
        """Decoding every keyframe in one pass beats seeking to each sampled one while the
        file has at most two keyframes per sampled frame (measured on a 640x480 chunk: 5.3 ms
        a keyframe in one pass, 14-15 ms a seek and its decode)."""
        return self.keyframes <= MAX_KEYFRAMES_PER_SAMPLE_IN_ONE_PASS * len(self.indices)


def sample_plan(path: Path, every_s: float = 1.0) -> SamplePlan:
    """One frame every ``every_s`` seconds (frame numbers 0, step, 2 step, ...), and whether
    each of them is a keyframe, read from the demuxed packets."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{Path(path).name}: no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0) or 1.0
            packets = [
                (p.pts, p.is_keyframe)
                for p in container.demux(stream)
                if p.size and p.pts is not None
            ]
    except av.error.FFmpegError as exc:
        raise VideoError(f"{Path(path).name}: not a readable video ({exc})") from exc
    packets.sort()
    step = max(1, round(fps * every_s))
    taken = packets[::step]
    return SamplePlan(
        fps,
        tuple(range(0, len(packets), step)),
        tuple(pts for pts, _ in taken),
        all(key for _, key in taken),
        sum(key for _, key in packets),
    )


def sample_frames(
    path: Path, every_s: float = 1.0, offset_s: float = 0.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Sample one RGB frame (as displayed) per ``every_s`` seconds from a CFR MP4.

    Timestamps are seconds from the file's start plus ``offset_s`` (the chunk's position in
    the session). Ingest puts a keyframe on every second, so every sampled frame is a
    keyframe and only keyframes are decoded (PyAV, ``skip_frame`` NONKEY): on a 5-minute
    640x480 webcam chunk 6.9 ms of CPU a sampled frame against decord's 24 ms, the same
    pixels. A file whose sampled frames are not all keyframes is read with decord.
    """
    plan = sample_plan(path, every_s)
    if not plan.all_keyframes:
        yield from _sample_with_decord(path, plan, offset_s)
        return
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            stream.codec_context.skip_frame = "NONKEY"
            frames = (
                container.decode(stream)
                if plan.decode_every_keyframe
                else _seek_each(container, stream, plan.pts)
            )
            wanted = dict(zip(plan.pts, plan.indices, strict=True))
            for frame in frames:
                index = wanted.pop(frame.pts, None)
                if index is not None:
                    image = frame.to_ndarray(format="rgb24")
                    yield offset_s + index / plan.fps, upright(image, display_rotation(frame))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{Path(path).name}: not a readable video ({exc})") from exc
    if wanted:
        missing = sorted(wanted.values())
        raise VideoError(
            f"{Path(path).name}: {len(missing)} sampled keyframes did not decode "
            f"(frames {missing[:5]}{'...' if len(missing) > 5 else ''})"
        )


def _seek_each(container, stream, pts: Sequence[int]) -> Iterator[av.VideoFrame]:
    """The keyframe at each of these timestamps: a seek, then the first frame decoded."""
    for target in pts:
        container.seek(target, stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= target:
                yield frame
                break


def _open_reader(path: Path):
    import decord

    try:
        return decord.VideoReader(str(path), num_threads=1)
    except (decord.DECORDError, RuntimeError) as exc:
        raise VideoError(f"{Path(path).name}: decord cannot open it ({exc})") from exc


def _sample_with_decord(
    path: Path, plan: SamplePlan, offset_s: float
) -> Iterator[tuple[float, np.ndarray]]:
    """The plan's frames decoded by decord, which seeks and decodes from the keyframe before
    each (it honours the display matrix itself)."""
    indices = list(plan.indices)
    for i in range(0, len(indices), SAMPLE_BATCH):
        batch = indices[i : i + SAMPLE_BATCH]
        reader = _open_reader(path)
        frames = reader.get_batch(batch).asnumpy()
        del reader  # stops its decoding thread before the detectors run
        for index, image in zip(batch, frames, strict=True):
            yield offset_s + index / plan.fps, image
