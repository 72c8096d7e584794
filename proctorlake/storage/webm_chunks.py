"""The gateway's chunks: the frames and microphone packets Janus recorded, muxed into WebM as
they came (nothing decoded, nothing encoded but one packet of silence).

This is the post-processing ``janus-pp-rec`` (Debian's ``janus-tools``) does, written where the
recorder already reads every packet: one mux per chunk instead of three ``janus-pp-rec`` runs
and two re-muxes. ``janus-pp-rec`` costs 30 ms of CPU per run just to start (136 shared
libraries), which at 30 s chunks was a third of the recorder's CPU. It stays the reference:
``tests/test_gateway_recording_copy.py`` checks that a chunk holds the same frames, times and
bytes as ``janus-pp-rec``'s WebM of the same recording.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from proctorlake.storage.rtp_opus import AUDIO_CLOCK_HZ, OpusPacket
from proctorlake.storage.rtp_vp8 import VIDEO_CLOCK_HZ, FrameCheck, vp8_frame_size

MILLISECONDS = Fraction(1, 1000)
AUDIO_TIME_BASE = Fraction(1, AUDIO_CLOCK_HZ)
OPUS_FRAME_TICKS = (120, 240, 480, 960, 1920, 2880)
"""The packet durations Opus codes (2.5 to 60 ms at 48 kHz)."""
DEFAULT_OPUS_TICKS = 960  # 20 ms, what browsers send


@dataclass(frozen=True)
class WrittenChunk:
    """What :func:`write_chunk` kept: where its first keyframe lay (seconds after the
    recording's first frame), how long the chunk plays and how many frames it holds."""

    skipped_s: float
    duration_s: float
    frame_count: int


def write_chunk(
    target: Path,
    frames: list[FrameCheck],
    microphone: list[OpusPacket] | None = None,
    microphone_offset_s: float = 0.0,
) -> WrittenChunk | None:
    """Write the decodable ``frames`` (see
    :func:`~proctorlake.storage.rtp_vp8.decodable_frames`) as a WebM, timestamps from their
    RTP times shifted to start at the first keyframe; None when none decodes.

    A rotated recording starts mid-stream, and a frame that lost a packet cannot be decoded,
    nor can what follows it until the next keyframe: those are left out, so every chunk
    decodes from end to end, and the gap they leave shows in the frame timestamps. The
    duration is measured as :func:`~proctorlake.storage.video.probe` measures it (first to
    last frame plus one frame interval), so no chunk is decoded to find it.

    ``microphone``: the publisher's Opus packets, its first one ``microphone_offset_s`` after
    the recording's first frame; muxed from the chunk's first frame on (sound before it is
    left out), a lost packet's time filled with silence so the samples stay on the video's
    clock (:func:`~proctorlake.storage.video.read_audio` reads them back to back)."""
    kept = [frame for frame in frames if frame.decodable]
    if not kept:
        return None
    keyframe_ts = kept[0].timestamp
    skipped_s = (keyframe_ts - frames[0].timestamp) / VIDEO_CLOCK_HZ
    width, height = vp8_frame_size(kept[0].data)
    last_pts = -1
    with av.open(str(target), "w", format="webm") as out:
        video = out.add_mux_stream("vp8", width=width, height=height)
        video.time_base = MILLISECONDS
        audio = None
        if microphone:
            audio = out.add_stream("libopus", rate=AUDIO_CLOCK_HZ, layout="stereo")
            audio.time_base = AUDIO_TIME_BASE
        for frame in kept:
            pts = max(round((frame.timestamp - keyframe_ts) * 1000 / VIDEO_CLOCK_HZ), last_pts + 1)
            out.mux(_packet(frame.data, pts, MILLISECONDS, video, frame.keyframe))
            last_pts = pts
        if audio is not None:
            shift = round((microphone_offset_s - skipped_s) * AUDIO_CLOCK_HZ)
            for pts, data in microphone_timeline(microphone, shift):
                out.mux(_packet(data, pts, AUDIO_TIME_BASE, audio, True))
    span = last_pts / 1000
    interval = span / (len(kept) - 1) if len(kept) > 1 and span > 0 else 1.0
    return WrittenChunk(round(skipped_s, 6), round(span + interval, 3), len(kept))


def microphone_timeline(packets: list[OpusPacket], shift: int) -> Iterator[tuple[int, bytes]]:
    """Each packet's time on the chunk's clock (48 kHz: its RTP time since the first packet,
    plus ``shift``) and its bytes; a gap of a whole packet's time or more is filled with
    packets of silence, and what falls before the chunk's start is left out."""
    step = _packet_ticks(packets)
    first = packets[0].timestamp
    last_pts = -1
    for timestamp, data in _with_silence(packets, step):
        pts = timestamp - first + shift
        if pts > last_pts and pts >= 0:
            yield pts, data
            last_pts = pts


def _with_silence(packets: list[OpusPacket], step: int) -> Iterator[tuple[int, bytes]]:
    """(RTP time, bytes) of each packet, and of a packet of silence for each ``step`` missing
    between two of them."""
    silence = opus_silence(step)
    previous = None
    for packet in packets:
        if previous is not None:
            for missing in range(previous + step, packet.timestamp - step + 1, step):
                yield missing, silence
        yield packet.timestamp, packet.data
        previous = packet.timestamp


def _packet_ticks(packets: list[OpusPacket]) -> int:
    """The packets' duration: the commonest step between consecutive timestamps, if Opus codes
    it, else 20 ms."""
    steps = Counter(b.timestamp - a.timestamp for a, b in zip(packets, packets[1:], strict=False))
    for step, _ in steps.most_common(1):
        if step in OPUS_FRAME_TICKS:
            return step
    return DEFAULT_OPUS_TICKS


@functools.cache
def opus_silence(ticks: int) -> bytes:
    """One Opus packet of ``ticks`` (48 kHz) of silence, encoded by libopus once."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_CLOCK_HZ
    codec.layout = "stereo"
    codec.format = "s16"
    codec.options = {"frame_duration": f"{ticks * 1000 / AUDIO_CLOCK_HZ:g}"}
    frame = av.AudioFrame.from_ndarray(
        np.zeros((1, 2 * ticks), np.int16), format="s16", layout="stereo"
    )
    frame.sample_rate = AUDIO_CLOCK_HZ
    frame.pts = 0
    packets = [bytes(p) for p in codec.encode(frame)] + [bytes(p) for p in codec.encode(None)]
    return packets[0]


def _packet(
    data: bytes, pts: int, time_base: Fraction, stream: av.stream.Stream, key: bool
) -> av.Packet:
    packet = av.Packet(data)
    packet.pts = packet.dts = pts
    packet.time_base = time_base
    packet.stream = stream
    packet.is_keyframe = key
    return packet
