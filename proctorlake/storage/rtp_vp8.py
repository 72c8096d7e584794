"""VP8 over RTP (RFC 3550, RFC 7741): the packet fields the gateway's sampler and recorder read.

The sampler reassembles the frames Janus forwards; the recorder reassembles the frames Janus
recorded and tells, from their sequence numbers, which decode without decoding any of them
(:func:`decodable_frames`): a frame that lost a packet, and every frame after it until the next
whole keyframe, do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from proctorlake.storage.rtp import first_source, payload_bounds

VIDEO_CLOCK_HZ = 90_000
"""The RTP clock of video (RFC 7741): timestamps count 1/90,000 s."""


@dataclass(frozen=True)
class RtpVp8Packet:
    """One RTP packet's fields, with its VP8 payload (the payload descriptor removed)."""

    ssrc: int
    seq: int
    timestamp: int
    marker: bool
    starts_frame: bool  # S bit set and partition 0: the frame's first packet
    data: bytes  # the VP8 bytes; empty for a padding-only packet
    temporal_layer: int | None = None  # TID, when the sender codes temporal layers (L1T3)


def parse_rtp_vp8(packet: bytes) -> RtpVp8Packet | None:
    """The fields of one VP8 RTP packet; None for what is not an RTP packet."""
    bounds = payload_bounds(packet)
    if bounds is None:
        return None
    offset, end = bounds
    ssrc = int.from_bytes(packet[8:12], "big")
    seq = int.from_bytes(packet[2:4], "big")
    timestamp = int.from_bytes(packet[4:8], "big")
    marker = bool(packet[1] & 0x80)
    if offset >= end:
        return RtpVp8Packet(ssrc, seq, timestamp, marker, False, b"")
    descriptor = packet[offset]
    starts_frame = bool(descriptor & 0x10) and (descriptor & 0x07) == 0
    temporal_layer = None
    offset += 1
    if descriptor & 0x80 and offset < end:  # X: extended control bits
        extended = packet[offset]
        offset += 1
        if extended & 0x80 and offset < end:  # I: picture id, 7 or 15 bits
            offset += 2 if packet[offset] & 0x80 else 1
        if extended & 0x40:  # L: TL0PICIDX
            offset += 1
        if extended & 0x30 and offset < end:  # T or K: TID(2 bits) Y KEYIDX(5 bits)
            if extended & 0x20:
                temporal_layer = packet[offset] >> 6
            offset += 1
    data = packet[offset:end]
    return RtpVp8Packet(ssrc, seq, timestamp, marker, starts_frame, data, temporal_layer)


def is_vp8_keyframe(frame: bytes) -> bool:
    """The P bit of the VP8 frame tag (RFC 6386): 0 for a keyframe."""
    return bool(frame) and not frame[0] & 0x01


@dataclass(frozen=True)
class FrameCheck:
    """One recorded frame: its RTP timestamp (unwrapped), whether it is a keyframe, whether it
    decodes (whole, and everything it refers to decoded) and, when it does, its bytes."""

    timestamp: int
    keyframe: bool
    decodable: bool
    data: bytes = field(default=b"", repr=False)


def vp8_frame_size(keyframe: bytes) -> tuple[int, int]:
    """Width and height from a keyframe's header (RFC 6386 9.1: after the 3-byte frame tag and
    the start code, two 14-bit sizes)."""
    if len(keyframe) < 10 or keyframe[3:6] != b"\x9d\x01\x2a":
        raise ValueError("not a VP8 keyframe")
    width = int.from_bytes(keyframe[6:8], "little") & 0x3FFF
    height = int.from_bytes(keyframe[8:10], "little") & 0x3FFF
    return width, height


def decodable_frames(packets: Iterable[bytes]) -> list[FrameCheck]:
    """Each frame of one recorded VP8 stream, in timestamp order, and whether it decodes.

    Only the first SSRC counts (``janus-pp-rec`` drops the others), duplicates count once.
    A frame is whole when its packets carry consecutive sequence numbers from one that starts
    the frame to one with the marker bit. A frame decodes when it is whole and either is a
    keyframe or follows a decodable frame with no sequence number missing in between (a lost
    packet there may have been a whole frame that this one refers to). Padding-only packets
    hold sequence numbers too, so they are counted as received, but make no frame."""
    seen: dict[int, RtpVp8Packet] = {}
    timestamps: dict[int, int] = {}
    for seq, timestamp, raw in first_source(packets):
        packet = parse_rtp_vp8(raw)
        if packet is not None and seq not in seen:
            seen[seq] = packet
            timestamps[seq] = timestamp
    by_time: dict[int, list[int]] = {}
    for seq in sorted(seen):
        if seen[seq].data:
            by_time.setdefault(timestamps[seq], []).append(seq)
    checks = []
    last_seq = None
    chain_ok = False
    for timestamp in sorted(by_time):
        seqs = by_time[timestamp]
        first, last = seen[seqs[0]], seen[seqs[-1]]
        whole = first.starts_frame and last.marker and seqs[-1] - seqs[0] == len(seqs) - 1
        keyframe = first.starts_frame and is_vp8_keyframe(first.data)
        follows = last_seq is not None and all(s in seen for s in range(last_seq + 1, seqs[0]))
        decodable = whole and (keyframe or (chain_ok and follows))
        data = b"".join(seen[seq].data for seq in seqs) if decodable else b""
        checks.append(FrameCheck(timestamp, keyframe, decodable, data))
        chain_ok = decodable
        last_seq = seqs[-1]
    return checks
