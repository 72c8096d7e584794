"""RTP packets (RFC 3550): where a packet's payload lies, and sequence numbers and timestamps
placed on an unwrapped line. Shared by the VP8 and Opus readers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SEQ_SPACE = 1 << 16
TS_SPACE = 1 << 32


def payload_bounds(packet: bytes) -> tuple[int, int] | None:
    """Where the payload starts and ends (after CSRCs and a header extension, before padding);
    None for what is not an RTP packet. Start equals end for a packet with no payload."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        if len(packet) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)  # padding
    return min(offset, end), end


def unwrap(value: int, reference: int, space: int) -> int:
    """``value`` (modulo ``space``) placed nearest to the unwrapped ``reference``."""
    delta = (value - reference) % space
    if delta >= space // 2:
        delta -= space
    return reference + delta


def first_source(packets: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(sequence number, timestamp, packet) of each RTP packet from the first source (SSRC) in
    ``packets``, both numbers unwrapped (a recording outlasts their 16 and 32 bits); what is
    not RTP and other sources (``janus-pp-rec`` drops them too) are left out."""
    ssrc = None
    seq_ref = ts_ref = 0
    for packet in packets:
        if len(packet) < 12 or packet[0] >> 6 != 2:  # the rest is for the caller to parse
            continue
        if ssrc is None:
            ssrc = packet[8:12]
            seq_ref = int.from_bytes(packet[2:4], "big")
            ts_ref = int.from_bytes(packet[4:8], "big")
        if packet[8:12] != ssrc:
            continue
        seq_ref = unwrap(int.from_bytes(packet[2:4], "big"), seq_ref, SEQ_SPACE)
        ts_ref = unwrap(int.from_bytes(packet[4:8], "big"), ts_ref, TS_SPACE)
        yield seq_ref, ts_ref, packet
