"""Which recorded VP8 frames decode, told from RTP sequence numbers alone, and the ``.mjr``
reader that gives the recorder those packets."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from proctorlake.storage import mjr
from proctorlake.storage.rtp_vp8 import decodable_frames, parse_rtp_vp8
from tests.fixtures.rtp_recording import rtp_packets, vp8_frames, write_mjr

GOP = 10


@pytest.fixture(scope="module")
def frames() -> list:
    encoded = vp8_frames(30, gop=GOP)
    assert [key for _data, key in encoded].count(True) == 3  # frames 0, 10, 20
    return encoded


def _frame_of(packets: list[bytes]) -> list[int]:
    """Which frame (by its timestamp's rank) each packet belongs to."""
    stamps = sorted({parse_rtp_vp8(p).timestamp for p in packets})
    return [stamps.index(parse_rtp_vp8(p).timestamp) for p in packets]


def test_a_whole_stream_decodes_from_its_first_keyframe(frames: list) -> None:
    checks = decodable_frames(rtp_packets(frames))
    assert len(checks) == 30
    assert all(c.decodable for c in checks)
    assert [i for i, c in enumerate(checks) if c.keyframe] == [0, 10, 20]


def test_a_recording_that_starts_mid_stream_waits_for_a_keyframe(frames: list) -> None:
    packets = rtp_packets(frames)
    owner = _frame_of(packets)
    rotated = [p for p, f in zip(packets, owner, strict=True) if f >= 3]
    checks = decodable_frames(rotated)
    assert [c.decodable for c in checks] == [False] * 7 + [True] * 20


def test_a_lost_packet_spoils_its_frame_and_what_follows_until_the_next_keyframe(
    frames: list,
) -> None:
    packets = rtp_packets(frames)
    owner = _frame_of(packets)
    lost = owner.index(13) + 1  # the second of frame 13's packets
    assert owner[lost] == 13
    checks = decodable_frames(packets[:lost] + packets[lost + 1 :])
    assert len(checks) == 30  # frame 13 still has packets; janus-pp-rec writes it
    assert [i for i, c in enumerate(checks) if not c.decodable] == list(range(13, 20))


def test_a_lost_whole_frame_spoils_the_frames_that_refer_to_it(frames: list) -> None:
    packets = rtp_packets(frames)
    owner = _frame_of(packets)
    kept = [p for p, f in zip(packets, owner, strict=True) if f != 4]
    checks = decodable_frames(kept)
    assert len(checks) == 29
    assert [c.decodable for c in checks] == [True] * 4 + [False] * 5 + [True] * 20


def _with_padding_between_frames(packets: list[bytes], every: int) -> list[bytes]:
    """A padding-only packet (bandwidth probing) after every ``every``-th frame: it takes a
    sequence number of its own, so the later packets' numbers move up by one each time."""
    owner = _frame_of(packets)
    out, shift = [], 0
    for index, packet in enumerate(packets):
        seq = (parse_rtp_vp8(packet).seq + shift) % (1 << 16)
        out.append(packet[:2] + seq.to_bytes(2, "big") + packet[4:])
        ends_frame = index + 1 < len(packets) and owner[index + 1] != owner[index]
        if ends_frame and owner[index] % every == 0:
            shift += 1
            pad = bytes([0xA0, 96]) + ((seq + 1) % (1 << 16)).to_bytes(2, "big")
            out.append(pad + packet[4:12] + bytes(3) + b"\x04")  # P bit, 4 bytes of padding
    return out


def test_padding_reordering_duplicates_and_wrapping_sequence_numbers_change_nothing(
    frames: list,
) -> None:
    packets = rtp_packets(frames, first_seq=65_520)  # wraps past 65535
    assert any(parse_rtp_vp8(p).seq < 100 for p in packets)
    padded = _with_padding_between_frames(packets, every=3)
    pads = [p for p in padded if not parse_rtp_vp8(p).data]
    assert len(pads) == 10
    messy = list(padded)
    rng = random.Random(7)
    for _ in range(20):  # neighbours swapped: packets that arrived out of order
        i = rng.randrange(len(messy) - 1)
        messy[i], messy[i + 1] = messy[i + 1], messy[i]
    messy.insert(40, messy[10])  # a retransmitted duplicate
    other = rtp_packets(frames[:3], ssrc=99)  # another stream's packets are not this one's
    checks = decodable_frames(messy[:1] + other + messy[1:])
    assert len(checks) == 30 and all(c.decodable for c in checks)
    # A lost padding packet cannot be told from a lost frame: the frames after it wait for
    # the next keyframe (about a second of video, the safe side).
    lost_pad = padded.index(pads[1])  # after frame 3
    checks = decodable_frames(padded[:lost_pad] + padded[lost_pad + 1 :])
    assert [i for i, c in enumerate(checks) if not c.decodable] == list(range(4, 10))


def test_a_mjr_file_gives_back_its_packets_and_a_cut_record_ends_it(
    frames: list, tmp_path: Path
) -> None:
    packets = rtp_packets(frames)
    path = write_mjr(tmp_path / "a.mjr", packets)
    assert list(mjr.rtp_packets(path)) == packets
    assert mjr.read_header(path)["c"] == "vp8"
    path.write_bytes(path.read_bytes()[:-5])  # the gateway died mid-write
    assert list(mjr.rtp_packets(path)) == packets[:-1]
    # A damaged record: reading stops there, as janus-pp-rec's does.
    whole = write_mjr(tmp_path / "c.mjr", packets).read_bytes()
    at = whole.index(b"MEET" + (100).to_bytes(4, "big"))  # record 10 (they are 10 ms apart)
    (tmp_path / "c.mjr").write_bytes(whole[:at] + b"XXXX" + whole[at + 4 :])
    assert list(mjr.rtp_packets(tmp_path / "c.mjr")) == packets[:10]
    (tmp_path / "b.mjr").write_bytes(b"MJR00001\x00\x02{}")
    with pytest.raises(mjr.MjrFormatError, match="MJR00002"):
        list(mjr.rtp_packets(tmp_path / "b.mjr"))
    (tmp_path / "empty.mjr").touch()  # created, no packet yet
    assert mjr.read_header(tmp_path / "empty.mjr") is None
