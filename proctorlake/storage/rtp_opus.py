"""Opus over RTP (RFC 7587): the recorded microphone's packets, in order, with their times.

An Opus RTP payload is one Opus packet, so the recorder puts the payloads into the chunk as
they are (no decoding)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proctorlake.storage.rtp import first_source, payload_bounds

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
    by_seq: dict[int, OpusPacket] = {}
    for seq, timestamp, packet in first_source(packets):
        start, end = payload_bounds(packet) or (0, 0)
        if start < end and seq not in by_seq:
            by_seq[seq] = OpusPacket(timestamp, packet[start:end])
    return [by_seq[seq] for seq in sorted(by_seq)]
