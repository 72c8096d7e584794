"""Opus over RTP (RFC 7587): the recorded microphone's packets, in order, with their times.

An Opus RTP payload is one Opus packet, so the recorder puts the payloads into the chunk as
they are (no decoding)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proctorlake.storage.rtp import SEQ_SPACE, TS_SPACE, payload_bounds, unwrap

AUDIO_CLOCK_HZ = 48_000
"""Opus's RTP clock is always 48 kHz (RFC 7587 4.1), whatever the sampling rate."""


@dataclass(frozen=True)
class OpusPacket:
    """One Opus packet and its RTP timestamp (unwrapped)."""

    timestamp: int
    data: bytes


def opus_packets(packets: Iterable[bytes]) -> list[OpusPacket]:
    """The stream's Opus packets in sequence order: the first SSRC only, duplicates once,
    packets without payload left out."""
    ssrc = None
    seq_ref = ts_ref = 0
    by_seq: dict[int, OpusPacket] = {}
    for raw in packets:
        bounds = payload_bounds(raw)
        if bounds is None:
            continue
        packet_ssrc = int.from_bytes(raw[8:12], "big")
        if ssrc is None:
            ssrc = packet_ssrc
            seq_ref = int.from_bytes(raw[2:4], "big")
            ts_ref = int.from_bytes(raw[4:8], "big")
        if packet_ssrc != ssrc:
            continue
        seq = seq_ref = unwrap(int.from_bytes(raw[2:4], "big"), seq_ref, SEQ_SPACE)
        ts_ref = unwrap(int.from_bytes(raw[4:8], "big"), ts_ref, TS_SPACE)
        start, end = bounds
        if start < end and seq not in by_seq:
            by_seq[seq] = OpusPacket(ts_ref, raw[start:end])
    return [by_seq[seq] for seq in sorted(by_seq)]
