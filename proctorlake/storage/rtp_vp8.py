"""VP8 over RTP (RFC 3550, RFC 7741): the packet fields the gateway's sampler and recorder read.

The sampler reassembles the frames Janus forwards; the recorder tells, from the sequence
numbers of the packets Janus recorded, which frames decode without decoding any of them
(:func:`decodable_frames`): a frame that lost a packet, and every frame after it until the next
whole keyframe, do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SEQ_SPACE = 1 << 16
TS_SPACE = 1 << 32
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
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    ssrc = int.from_bytes(packet[8:12], "big")
    seq = int.from_bytes(packet[2:4], "big")
    timestamp = int.from_bytes(packet[4:8], "big")
    marker = bool(packet[1] & 0x80)
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        if len(packet) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)  # padding
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
    """One frame as ``janus-pp-rec`` writes it: its RTP timestamp (unwrapped), whether it is a
    keyframe and whether it decodes (whole, and everything it refers to decoded)."""

    timestamp: int
    keyframe: bool
    decodable: bool


def _unwrap(value: int, reference: int, space: int) -> int:
    """``value`` (modulo ``space``) placed nearest to the unwrapped ``reference``."""
    delta = (value - reference) % space
    if delta >= space // 2:
        delta -= space
    return reference + delta


def decodable_frames(packets: Iterable[bytes]) -> list[FrameCheck]:
    """Each frame of one recorded VP8 stream, in timestamp order, and whether it decodes.

    Only the first SSRC counts (``janus-pp-rec`` drops the others), duplicates count once.
    A frame is whole when its packets carry consecutive sequence numbers from one that starts
    the frame to one with the marker bit. A frame decodes when it is whole and either is a
    keyframe or follows a decodable frame with no sequence number missing in between (a lost
    packet there may have been a whole frame that this one refers to). Padding-only packets
    hold sequence numbers too, so they are counted as received, but make no frame."""
    ssrc = None
    seen: dict[int, RtpVp8Packet] = {}
    seq_ref = ts_ref = 0
    timestamps: dict[int, int] = {}
    for raw in packets:
        packet = parse_rtp_vp8(raw)
        if packet is None:
            continue
        if ssrc is None:
            ssrc, seq_ref, ts_ref = packet.ssrc, packet.seq, packet.timestamp
        if packet.ssrc != ssrc:
            continue
        seq = seq_ref = _unwrap(packet.seq, seq_ref, SEQ_SPACE)
        ts_ref = _unwrap(packet.timestamp, ts_ref, TS_SPACE)
        if seq not in seen:
            seen[seq] = packet
            timestamps[seq] = ts_ref
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
        checks.append(FrameCheck(timestamp, keyframe, decodable))
        chain_ok = decodable
        last_seq = seqs[-1]
    return checks
