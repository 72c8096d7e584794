"""The recorder's chunks: recorded VP8 frames and Opus packets muxed into WebM as they came."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from proctorlake.storage.rtp_opus import OpusPacket, opus_packets
from proctorlake.storage.rtp_vp8 import decodable_frames
from proctorlake.storage.video import probe, read_audio
from proctorlake.storage.webm_chunks import write_chunk
from tests.fixtures.rtp_recording import opus_rtp_packets, opus_tone, rtp_packets, vp8_frames

FPS = 5


def _recorded_frames(first: int = 0, count: int = 20, gop: int = 5) -> list:
    """What the recorder reads of a recording that began at frame ``first`` (a rotation opens
    files mid-stream)."""
    return decodable_frames(rtp_packets(vp8_frames(count, gop, fps=FPS)[first:], fps=FPS))


def _tone_packets(seconds: float, lost: range = range(0)) -> list[OpusPacket]:
    """A 440 Hz tone as 20 ms Opus packets with their RTP times; ``lost``: packets that never
    came."""
    return [
        packet
        for i, packet in enumerate(opus_packets(opus_rtp_packets(opus_tone(seconds))))
        if i not in lost
    ]


def test_a_recording_that_starts_mid_stream_is_kept_from_its_first_keyframe(
    tmp_path: Path,
) -> None:
    frames = _recorded_frames(first=3)  # frames 3 and 4 refer to a keyframe not recorded
    written = write_chunk(tmp_path / "chunk.webm", frames)
    assert written is not None
    assert written.skipped_s == pytest.approx(0.4)  # frames 3, 4 at 5 fps, keyframe at 5
    info = probe(tmp_path / "chunk.webm")  # decodes every frame; raises on a broken one
    assert info.frame_count == 15 and info.duration_s == pytest.approx(3.0, abs=0.01)
    # Measured while writing, as probe measures it (so the chunk need not be decoded).
    assert (written.frame_count, written.duration_s) == (info.frame_count, info.duration_s)
    with av.open(str(tmp_path / "chunk.webm")) as chunk:
        packets = [p for p in chunk.demux(video=0) if p.size]
    assert [bytes(p) for p in packets] == [f.data for f in frames[2:]]  # the bytes as recorded
    assert [p.is_keyframe for p in packets] == [i % 5 == 0 for i in range(15)]


def test_nothing_is_written_when_no_frame_decodes(tmp_path: Path) -> None:
    assert write_chunk(tmp_path / "chunk.webm", _recorded_frames(first=1, count=5)) is None


@pytest.mark.parametrize(("offset_s", "expected_s"), [(0.0, 4.0), (-1.0, 3.0), (0.4, 4.0)])
def test_the_microphone_is_muxed_into_the_chunk_from_its_first_frame(
    tmp_path: Path, offset_s: float, expected_s: float
) -> None:
    # offset -1 s: the microphone's first packet came a second before the recording's first
    # frame, so that second is left out and what remains starts with the video. Offset 0.4 s
    # with a recording that starts 0.4 s before its keyframe: sound and chunk start together.
    first = 3 if offset_s == 0.4 else 0
    target = tmp_path / "chunk.webm"
    write_chunk(target, _recorded_frames(first=first), _tone_packets(4.0), offset_s)
    heard = read_audio(target)
    assert heard is not None and len(heard) / 16000 == pytest.approx(expected_s, abs=0.05)
    assert probe(target).frame_count == 20 - first - 2 * (first > 0)  # every decodable frame


def test_lost_microphone_packets_are_filled_with_silence_so_the_sound_stays_in_time(
    tmp_path: Path,
) -> None:
    target = tmp_path / "chunk.webm"
    write_chunk(target, _recorded_frames(), _tone_packets(4.0, lost=range(50, 75)))  # 1.0-1.5 s
    heard = read_audio(target)
    assert heard is not None and len(heard) / 16000 == pytest.approx(4.0, abs=0.05)

    def loudness(start_s: float) -> float:
        return float(
            np.sqrt(np.mean(heard[int(start_s * 16000) : int((start_s + 0.1) * 16000)] ** 2))
        )

    assert loudness(0.5) > 0.1 and loudness(2.0) > 0.1  # the tone, in time before and after
    assert loudness(1.2) < 0.01  # the lost half second is silent, not the later tone moved up


def test_opus_packets_come_in_sequence_order_from_the_first_source_once() -> None:
    def rtp(seq: int, timestamp: int, payload: bytes, ssrc: int = 9) -> bytes:
        header = bytes([0x80, 111]) + seq.to_bytes(2, "big") + timestamp.to_bytes(4, "big")
        return header + ssrc.to_bytes(4, "big") + payload

    packets = [
        rtp(65535, 4_294_966_336, b"a"),
        rtp(1, 960, b"c"),  # came before the one it follows
        rtp(0, 0, b"b"),  # the sequence number and the timestamp wrapped
        rtp(0, 0, b"b"),  # a duplicate
        rtp(2, 1920, b"x", ssrc=10),  # another source
        rtp(2, 1920, b""),  # no payload
    ]
    assert opus_packets(packets) == [
        OpusPacket(4_294_966_336, b"a"),
        OpusPacket(4_294_967_296, b"b"),
        OpusPacket(4_294_968_256, b"c"),
    ]


def test_a_screen_share_resized_mid_chunk_decodes_at_each_size(tmp_path: Path) -> None:
    # A shared window resized: the browser sends a keyframe at the new size. The chunk's header
    # carries the first size; each frame decodes at its own.
    before = vp8_frames(10, gop=5, fps=FPS, size=(96, 64))
    after = vp8_frames(10, gop=5, fps=FPS, size=(128, 96))
    frames = decodable_frames(rtp_packets(before + after, fps=FPS))
    assert write_chunk(tmp_path / "chunk.webm", frames) is not None
    with av.open(str(tmp_path / "chunk.webm")) as chunk:
        sizes = [(f.width, f.height) for f in chunk.decode(video=0)]
    assert sizes == [(96, 64)] * 10 + [(128, 96)] * 10
    assert probe(tmp_path / "chunk.webm").frame_count == 20
