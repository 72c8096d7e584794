"""The media-plane bench's cheap publishers send what Chromium sends: VP8 in temporal layers
whose base layer the gateway's sampler decodes alone, with the TID in each payload descriptor.
If either broke, the bench would measure a sampler that decodes every frame, or none."""

from __future__ import annotations

import av
import numpy as np

from bench.webrtc_publisher import GOP, LAYER_PATTERN, LayeredVp8Packer, encode_vp8
from proctorlake.services.gateway_sampling import Vp8Assembler
from proctorlake.storage.rtp_vp8 import is_vp8_keyframe, parse_rtp_vp8


def _frames(count: int) -> list[np.ndarray]:
    """A moving gradient with noise: inter frames that carry real changes."""
    rng = np.random.default_rng(3)
    x = np.arange(320)[None, :, None]
    return [
        ((x + 4 * i + rng.integers(0, 20, (240, 320, 3))) % 256).astype(np.uint8)
        for i in range(count)
    ]


def _rtp(payload: bytes, seq: int, timestamp: int, marker: bool) -> bytes:
    header = bytes([0x80, (0x80 if marker else 0) | 96])
    return header + seq.to_bytes(2, "big") + timestamp.to_bytes(4, "big") + b"\0\0\0\1" + payload


def test_layered_loop_keyframes_and_base_layer_decodes_alone() -> None:
    packets = encode_vp8(_frames(40), 40, (320, 240), 300_000, layered=True)
    assert len(packets) == 32  # cut to whole GOPs: the loop starts again on a keyframe
    assert [i for i, p in enumerate(packets) if is_vp8_keyframe(p)] == [0, GOP]
    full = av.CodecContext.create("vp8", "r")
    base = av.CodecContext.create("vp8", "r")
    for index, packet in enumerate(packets):
        whole = full.decode(av.Packet(packet))[0].to_ndarray(format="rgb24")
        if LAYER_PATTERN[index % len(LAYER_PATTERN)] == 0:
            alone = base.decode(av.Packet(packet))[0].to_ndarray(format="rgb24")
            assert np.array_equal(whole, alone), f"base frame {index} differs decoded alone"


def test_packer_writes_each_frames_temporal_layer_for_the_sampler() -> None:
    packets = encode_vp8(_frames(16), 16, (320, 240), 300_000, layered=True)
    packer = LayeredVp8Packer()
    assembler = Vp8Assembler()
    seq = 0
    for index, data in enumerate(packets + [packets[0] * 3]):  # the last one spans packets
        packet = av.Packet(data)
        packet.pts = index
        payloads, timestamp = packer.pack(packet)
        assert timestamp == index * 6000  # 90 kHz at 15 fps
        rebuilt = None
        for number, payload in enumerate(payloads):
            rtp = _rtp(payload, seq, timestamp, marker=number == len(payloads) - 1)
            seq += 1
            parsed = parse_rtp_vp8(rtp)
            assert parsed.temporal_layer == LAYER_PATTERN[index % 4]
            rebuilt = assembler.push(rtp)
        assert rebuilt == data
        assert assembler.temporal_layer == LAYER_PATTERN[index % 4]
    assert len(payloads) > 1
