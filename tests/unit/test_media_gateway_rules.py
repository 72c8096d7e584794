"""The media gateway's pure parts: its generated configuration, the recording policy, VP8
reassembly of forwarded RTP, how a raw recording's name maps to a chain, and how the
microphone joins the webcam chunk."""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

import av
import numpy as np
import pytest

from proctorlake.core.policy import ExamPolicy, ExamPolicyError
from proctorlake.core.settings import load_settings
from proctorlake.core.vocabulary import RecordingMode
from proctorlake.services.gateway_recording import raw_recordings
from proctorlake.services.gateway_sampling import (
    KEYFRAME_EARLY_S,
    SAMPLE_EVERY_S,
    LayerFilter,
    PendingFrames,
    Vp8Assembler,
    sample_now,
)
from proctorlake.storage import gateway
from proctorlake.storage.rtp_vp8 import is_vp8_keyframe, parse_rtp_vp8
from tests.fixtures.rtp_recording import vp8_frames


def _rtp(payload: bytes, marker: bool, seq: int) -> bytes:
    header = bytes([0x80, (0x80 if marker else 0) | 96]) + seq.to_bytes(2, "big")
    return header + (1234).to_bytes(4, "big") + (42).to_bytes(4, "big") + payload


def test_generated_config_keeps_the_api_on_loopback_and_shares_media_loops(tmp_path: Path) -> None:
    settings = load_settings(
        {"PROCTORLAKE_HOME": str(tmp_path), "PROCTORLAKE_GATEWAY_PORT": "18090"}
    )
    paths = gateway.write_config(settings)
    main = paths.main_config.read_text()
    assert 'ice_enforce_list = "lo"' in main and 'rtp_port_range = "20000-20999"' in main
    assert f"event_loops = {os.cpu_count() or 1}" in main
    http = (paths.config_dir / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in http and "port = 18090" in http and "admin_http = false" in http
    videoroom = (paths.config_dir / "janus.plugin.videoroom.jcfg").read_text()
    assert gateway.admin_key(settings) in videoroom and "lock_rtp_forward = true" in videoroom
    assert paths.admin_key_file.stat().st_mode & 0o777 == 0o600
    assert gateway.janus_argv(settings)[:3] == ("/usr/bin/janus", "-C", str(paths.main_config))


def test_recording_policy_defaults_to_server_and_refuses_unknown_modes() -> None:
    assert ExamPolicy().recording is RecordingMode.SERVER
    assert ExamPolicy.from_json('{"recording": "client"}').recording is RecordingMode.CLIENT
    assert ExamPolicy.from_stored_json(ExamPolicy().to_json()).recording is RecordingMode.SERVER
    with pytest.raises(ExamPolicyError, match="recording"):
        ExamPolicy.from_json('{"recording": "browser"}')


def test_vp8_frames_are_reassembled_from_rtp_packets() -> None:
    # Descriptor with X (picture id, 15 bits): 0x90 0x80 <2 bytes>; S=1 on the first packet.
    first = _rtp(b"\x90\x80\x81\x02" + b"key-", marker=False, seq=1)
    middle = _rtp(b"\x80\x80\x81\x02" + b"frame", marker=True, seq=2)
    parsed = parse_rtp_vp8(first)
    assert (parsed.data, parsed.starts_frame, parsed.marker) == (b"key-", True, False)
    assembler = Vp8Assembler()
    assert assembler.push(first) is None
    assert assembler.push(middle) == b"key-frame"
    # A frame whose first packet was lost is dropped, not decoded half.
    assert assembler.push(_rtp(b"\x00tail", marker=True, seq=4)) is None
    assert parse_rtp_vp8(b"\x00" * 8) is None
    # The frame tag's P bit: 0 for a keyframe (RFC 6386).
    assert is_vp8_keyframe(b"\x10\x02\x00\x9d\x01\x2a") and not is_vp8_keyframe(b"\x31\x02")


def test_the_temporal_layer_of_a_frame_is_read_from_its_descriptor() -> None:
    # X, then I (7-bit picture id), L (TL0PICIDX) and T: TID 2 in the top bits, Y set.
    upper = _rtp(b"\x90\xe0\x05\x07\xa0" + b"delta", marker=True, seq=1)
    base = _rtp(b"\x90\xe0\x06\x08\x20" + b"base", marker=True, seq=2)
    plain = _rtp(b"\x10" + b"old", marker=True, seq=3)  # a sender without layers
    assert [parse_rtp_vp8(p).temporal_layer for p in (upper, base, plain)] == [2, 0, None]
    assert parse_rtp_vp8(upper).data == b"delta"
    assembler = Vp8Assembler()
    assert assembler.push(upper) == b"delta" and assembler.temporal_layer == 2
    assert assembler.push(base) == b"base" and assembler.temporal_layer == 0


def _layered(fps: int, frames: int, keyframes: set[int]) -> list[tuple[int, bool, int]]:
    """(TID, keyframe?, RTP time) of an L1T3 stream: layers 0, 2, 1, 2, ..."""
    pattern = (0, 2, 1, 2)
    return [(pattern[i % 4], i in keyframes, i * 90_000 // fps) for i in range(frames)]


def test_only_the_base_layer_is_decoded_when_it_is_dense_enough() -> None:
    layers = LayerFilter()
    decoded = [i for i, f in enumerate(_layered(15, 24, {0})) if layers.decodes(*f)]
    # Everything until the base layer's rate is known, then a quarter of the frames.
    assert decoded == [0, 1, 2, 3, 4, 8, 12, 16, 20]


def test_a_slow_camera_decodes_every_layer_again_from_its_next_keyframe() -> None:
    layers = LayerFilter()
    fast = _layered(15, 12, set())  # frames 0-11 at 15 fps
    # Then the camera drops to 5 fps (frames 12-27, a keyframe at 20): the base layer comes
    # every 0.8 s, too sparse for a sample a second.
    slow = [(tid, key, 72_000 + time * 3) for tid, key, time in _layered(15, 16, {8})]
    decoded = [i for i, f in enumerate(fast + slow) if layers.decodes(*f)]
    assert decoded == [0, 1, 2, 3, 4, 8, 12, 16, *range(20, 28)]
    plain = LayerFilter()  # a sender without layers: every frame
    assert all(plain.decodes(None, i == 0, i * 6000) for i in range(10))


def test_raw_recordings_name_their_chain_and_stream(tmp_path: Path) -> None:
    names = [
        "videoroom-s-1-a-user-2f1c-9ab-1796053091301465-video-0.mjr",
        "videoroom-s-1-a-user-2f1c-9ab-1796053091301465-video-1.mjr",
        "videoroom-s-1-a-user-77-1796053100825457-audio-2.mjr",
        "videoroom-other-user-1-1796053100825457-video-0.mjr",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    found = [(r.chain, r.kind, r.mindex) for r in raw_recordings(tmp_path, "s-1-a")]
    assert found == [("2f1c-9ab", "video", 0), ("2f1c-9ab", "video", 1), ("77", "audio", 2)]


def test_erasure_and_retention_remove_the_gateways_raw_recordings(tmp_path: Path) -> None:
    from proctorlake.governance.erasure.caches import erase_session_caches

    settings = load_settings({"PROCTORLAKE_HOME": str(tmp_path)})
    mine = gateway.raw_recording_dir(settings, "s-erased")
    theirs = gateway.raw_recording_dir(settings, "s-kept")
    for folder in (mine, theirs):
        folder.mkdir(parents=True)
        (folder / "videoroom-x-user-1-1-video-0.mjr").write_bytes(b"MJR00002")
        (folder / "room.json").write_text("{}")
    counts = erase_session_caches(settings, "s-erased")
    assert not mine.exists() and len(list(theirs.iterdir())) == 2
    assert counts["cache_files_removed"] == 2


def test_a_webcam_recording_pairs_with_its_publishers_microphone_of_the_same_rotation() -> None:
    from proctorlake.services.gateway_recording import RawRecording, paired_microphone

    def raw(chain: str, kind: str, mindex: int, created_us: int) -> RawRecording:
        return RawRecording(Path(f"{chain}-{created_us}-{kind}"), chain, kind, mindex, created_us)

    video = raw("p1", "video", 0, 10_000_000)
    same = raw("p1", "audio", 2, 10_000_400)
    previous_rotation = raw("p1", "audio", 2, 2_000_000)
    other_publisher = raw("p2", "audio", 2, 10_000_100)
    assert paired_microphone(video, [previous_rotation, other_publisher, same]) == same
    assert paired_microphone(video, [previous_rotation, other_publisher]) is None


def test_pending_frames_decode_only_what_a_sample_needs_to_the_same_picture() -> None:
    clip = [data for data, _ in vp8_frames(48, 16)]
    assert [i for i, p in enumerate(clip) if is_vp8_keyframe(p)] == [0, 16, 32]
    full = av.CodecContext.create("vp8", "r")
    expected = [full.decode(av.Packet(p))[0].to_ndarray() for p in clip]
    decoder = av.CodecContext.create("vp8", "r")
    pending = PendingFrames()
    decoded_in_all = 0
    for index, data in enumerate(clip):
        pending.add(data, is_vp8_keyframe(data))
        if index in (5, 12, 20, 40):  # samples due
            picture, decoded, refused = pending.decode_latest(decoder)
            assert refused == 0
            assert np.array_equal(picture.to_ndarray(), expected[index])
            decoded_in_all += decoded
    # 0-5, 6-12, then 16-20 (13-15 dropped by the keyframe), then 32-40: 28 of 41 frames.
    assert decoded_in_all == 6 + 7 + 5 + 9


def test_pending_frames_before_any_keyframe_are_refused_not_published() -> None:
    clip = [data for data, _ in vp8_frames(20, 16)]
    decoder = av.CodecContext.create("vp8", "r")
    pending = PendingFrames()
    for data in clip[1:4]:  # joined mid-stream: no keyframe yet
        pending.add(data, is_vp8_keyframe(data))
    picture, decoded, refused = pending.decode_latest(decoder)
    assert (picture, decoded, refused) == (None, 3, 3)
    pending.add(clip[16], keyframe=True)
    picture, decoded, refused = pending.decode_latest(decoder)
    assert picture is not None and (decoded, refused) == (1, 0)


def test_a_keyframe_just_before_a_sample_is_due_is_taken_as_the_sample() -> None:
    assert sample_now(now=10.0, due=10.0, keyframe=False)
    assert not sample_now(now=9.9, due=10.0, keyframe=False)
    assert sample_now(now=9.6, due=10.0, keyframe=True)
    assert not sample_now(now=9.4, due=10.0, keyframe=True)


def _sampling_schedule(keyframes: str, early: bool) -> tuple[int, int, float]:
    """Samples taken, frames decoded and the longest gap between samples over 120 s of a
    15 fps camera's base layer, as TrackSampler schedules them (``due`` moves a second a
    sample). ``keyframes``: every 16 frames (the bench's publisher) or on the room's request
    each second, answered a little late (Chromium): a keyframe restarts the layer pattern."""
    due, samples, decoded, waiting, since, last, longest = 0.0, 0, 0, 0, 0, 0.0, 0.0
    next_request = 1.02
    for index in range(120 * 15):
        now = index / 15
        keyframe = index % 16 == 0 if keyframes == "gop16" else index == 0 or now >= next_request
        if keyframe:
            since, next_request = 0, next_request + 1.02 * (now >= next_request)
        base, since = since % 4 == 0, since + 1
        if not base:
            continue
        waiting = 1 if keyframe else waiting + 1
        if sample_now(now, due, keyframe) if early else now >= due:
            samples, decoded, waiting = samples + 1, decoded + waiting, 0
            longest, last = max(longest, now - last), now
            due = max(due + SAMPLE_EVERY_S, now)
    return samples, decoded, longest


@pytest.mark.parametrize("keyframes", ["gop16", "requested"])
def test_keyframe_samples_keep_one_a_second_and_decode_less(keyframes: str) -> None:
    samples, decoded, longest_gap = _sampling_schedule(keyframes, early=True)
    _, decoded_at_due_times, _ = _sampling_schedule(keyframes, early=False)
    assert 119 <= samples <= 121
    assert longest_gap <= 1 + KEYFRAME_EARLY_S
    assert decoded <= 0.8 * decoded_at_due_times  # 222 against 292, 242 against 308


def test_a_track_takes_at_most_a_turn_of_packets_so_the_others_get_theirs(tmp_path: Path) -> None:
    from proctorlake.services.gateway_recording import GatewayRoom
    from proctorlake.services.gateway_sampling import (
        PACKETS_PER_TURN,
        TRACK_SAMPLING,
        TrackSampler,
    )

    settings = load_settings({"PROCTORLAKE_HOME": str(tmp_path)})
    room = GatewayRoom("s-turns", "uni", "e1", 0)
    sampler = TrackSampler(settings, producer=None, room=room, sampling=TRACK_SAMPLING[0])
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for seq in range(PACKETS_PER_TURN + 44):  # padding only: no frame, nothing published
            sender.sendto(_rtp(b"", marker=False, seq=seq), ("127.0.0.1", sampler.port))
        assert sampler.quiet_for(1.0)
        taken: list[int] = []
        deadline = time.monotonic() + 30
        while sum(taken) < PACKETS_PER_TURN + 44 and time.monotonic() < deadline:
            select.select([sampler.sock], [], [], 1.0)
            taken.append(sampler.receive())
        # Loopback queues each datagram as it is sent, so the first turn finds them all.
        assert sum(taken) == PACKETS_PER_TURN + 44 and max(taken) <= PACKETS_PER_TURN, taken
        assert sampler.receive() == 0  # an empty socket: returns at once
        assert not sampler.quiet_for(1.0) and sampler.frames_received == 0
    finally:
        sender.close()
        sampler.close()
