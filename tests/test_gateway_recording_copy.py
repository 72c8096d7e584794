"""The recorder stores what decodes of a raw recording without decoding it: a ``.mjr`` of real
VP8 frames (one packet lost on the way, the recording starting mid-stream) goes through the
recorder, and the stored chunk decodes from end to end. Debian's ``janus-pp-rec`` is the
reference for what a chunk holds: the same frames, times and bytes as its WebM of the same
recording, and the same microphone packets as its Opus file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import pytest

from proctorlake.core.settings import Settings
from proctorlake.services.gateway_recording import ROOM_FILE, collect_session
from proctorlake.storage import gateway, mjr
from proctorlake.storage.object_store import manifest_key, open_object_store
from proctorlake.storage.rtp_opus import opus_packets
from proctorlake.storage.rtp_vp8 import decodable_frames, parse_rtp_vp8
from proctorlake.storage.webm_chunks import write_chunk
from tests.fixtures.rtp_recording import (
    opus_rtp_packets,
    opus_tone,
    rtp_packets,
    vp8_frames,
    write_mjr,
)

SESSION = "s-copy-1"
STARTED_MS = 1_700_000_000_000
FPS = 10


LOSSES = {
    # what was lost on the way: (frames that lost packets, frames stored)
    "nothing": ([], [*range(10, 30)]),
    # Frame 13's first packet: 13 cannot decode, nor 14-19 that refer to it.
    "a packet": ([13], [10, 11, 12, *range(20, 30)]),
    # All of frame 14: nothing is truncated, so a decoder raises no error on 15-19, but they
    # refer to 14 and would show corrupt pictures; the sequence numbers tell.
    "a whole frame": ([14], [10, 11, 12, 13, *range(20, 30)]),
    # A damaged record in the middle of the file (frame 16's first packet): janus-pp-rec
    # and the recorder both stop reading there; the frames before it are stored.
    "a damaged record": ([16], [10, 11, 12, 13, 14, 15]),
}


@pytest.mark.parametrize("lost", list(LOSSES))
def test_the_stored_chunk_holds_exactly_the_frames_that_decode(
    settings: Settings, lost: str
) -> None:
    packets = rtp_packets(vp8_frames(30, gop=10, fps=FPS), fps=FPS)
    stamps = sorted({parse_rtp_vp8(p).timestamp for p in packets})
    frame_of = [stamps.index(parse_rtp_vp8(p).timestamp) for p in packets]
    # The recording starts at frame 3 (a rotation opens files mid-stream): 0.7 s before the
    # keyframe at frame 10.
    recorded = [p for p, f in zip(packets, frame_of, strict=True) if f >= 3]
    hit, expected = LOSSES[lost]
    if lost == "a packet":
        recorded.remove(next(p for p, f in zip(packets, frame_of, strict=True) if f in hit))
    if lost == "a whole frame":
        recorded = [p for p in recorded if frame_of[packets.index(p)] not in hit]
    damaged = None
    if lost == "a damaged record":
        damaged = next(p for p, f in zip(packets, frame_of, strict=True) if f in hit)
    folder = gateway.raw_recording_dir(settings, SESSION)
    folder.mkdir(parents=True)
    room = {"session_id": SESSION, "institution_id": "uni", "exam_id": "e1"}
    (folder / ROOM_FILE).write_text(json.dumps({**room, "started_at_ms": STARTED_MS}))
    first_packet_us = (STARTED_MS + 5_000) * 1000
    raw = write_mjr(
        folder / f"videoroom-{SESSION}-user-42-{first_packet_us}-video-0.mjr",
        recorded,
        created_us=first_packet_us,
    )
    if damaged is not None:
        data = raw.read_bytes()
        at = data.index(damaged) - 10  # its record's MEET
        raw.write_bytes(data[:at] + b"XXXX" + data[at + 4 :])

    stored = collect_session(settings, SESSION, now_s=first_packet_us / 1e6 + 10)

    assert len(stored) == 1 and not list(folder.glob("*.mjr"))
    entry = stored[0]
    assert entry["chunk_start_ms"] == 5_700  # 5 s into the session, then 0.7 s to a keyframe
    store = open_object_store(settings)
    manifest = json.loads(store.get_bytes(manifest_key(SESSION)))
    assert [c["original_key"] for c in manifest["chunks"]] == [entry["original_key"]]
    chunk = settings.home / "chunk.webm"
    chunk.write_bytes(store.get_bytes(entry["original_key"]))
    with av.open(str(chunk)) as container:
        decoded = [f.pts for f in container.decode(video=0)]  # raises on a broken frame
    assert decoded == [(i - 10) * 100 for i in expected]


JANUS_PP_REC = "/usr/bin/janus-pp-rec"  # Debian's janus-tools, installed by scripts/setup.sh


def _packets(path: Path, kind: str) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [(p.pts, bytes(p)) for p in container.demux(stream) if p.size]


def test_a_chunk_holds_what_janus_pp_rec_makes_of_the_same_recording(tmp_path: Path) -> None:
    packets = rtp_packets(vp8_frames(30, gop=10, fps=FPS), fps=FPS, mtu_payload=200)
    first_recorded = packets.index(
        next(p for p in packets if parse_rtp_vp8(p).timestamp > 123_456 + 2 * 9_000)
    )
    video = write_mjr(tmp_path / "video.mjr", packets[first_recorded:])  # from frame 3 on
    audio = write_mjr(tmp_path / "audio.mjr", opus_rtp_packets(opus_tone(2.0)), codec="opus")
    for raw, made in ((video, "pp.webm"), (audio, "pp.opus")):
        subprocess.run(
            [JANUS_PP_REC, str(raw), str(tmp_path / made)], check=True, capture_output=True
        )

    chunk = tmp_path / "chunk.webm"
    frames = decodable_frames(mjr.rtp_packets(video))
    written = write_chunk(chunk, frames, opus_packets(mjr.rtp_packets(audio)), 0.0)

    reference = _packets(tmp_path / "pp.webm", "video")
    assert len(reference) == 27  # frames 3-29: janus-pp-rec writes the two before the keyframe too
    keyframe_pts = reference[7][0]  # frame 10
    expected = [(pts - keyframe_pts, data) for pts, data in reference[7:]]
    assert _packets(chunk, "video") == expected
    assert written is not None and written.skipped_s == pytest.approx(keyframe_pts / 1000)
    # The microphone: the same Opus packets in the same order (janus-pp-rec writes Ogg).
    heard = [data for _, data in _packets(chunk, "audio")]
    reference_sound = [data for _, data in _packets(tmp_path / "pp.opus", "audio")]
    # Sound before the chunk's first frame (its keyframe, 0.7 s in: 35 packets) is left out.
    assert heard and heard == reference_sound[35:]
