"""Finding #4: a tiny WebM whose timestamps span days is refused before any transcode."""

from __future__ import annotations

import fractions
import io
import json
import time
from pathlib import Path

import av
import numpy as np
import pytest

from proctorlake.core.settings import Settings
from proctorlake.services.ingest import (
    IngestError,
    SessionIdentity,
    ingest_recording,
    ingest_uploaded_segments,
)
from proctorlake.storage.object_store import chunk_key, manifest_key, open_object_store
from proctorlake.storage.video import write_video
from proctorlake.storage.video_timeline import (
    TimelineLimits,
    VideoTimelineRejected,
    check_timeline,
    recording_limits,
    segment_limits,
)

FAST_S = 3.0
"""Refusing must cost milliseconds; transcoding the crafted file would take hours."""


def webm_with_timestamps(pts_ms: list[int]) -> bytes:
    """A VP8 WebM of 16x16 frames at the given timestamps (milliseconds)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        for pts in pts_ms:
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def million_second_webm() -> bytes:
    data = webm_with_timestamps([0, 1_000_000_000])
    assert len(data) < 1024  # the finding's file was 554 bytes
    return data


def _identity(session_id: str) -> SessionIdentity:
    return SessionIdentity(session_id, "stu-1", "exam-1", "uni-a")


def _snapshot(settings: Settings) -> dict[str, bytes]:
    store = open_object_store(settings)
    return {key: store.get_bytes(key) for key in store.list("sessions/")}


def test_issue4_timeline_bounds_derive_from_chunk_seconds(million_second_webm) -> None:
    assert segment_limits(10).max_duration_s == 11  # one chunk, one second of recorder slack
    assert recording_limits(10).max_jump_s == 10
    with pytest.raises(VideoTimelineRejected, match="jump 1000000 s"):
        check_timeline(million_second_webm, recording_limits(300), "x.webm")
    steady = webm_with_timestamps([i * 200 for i in range(20)])  # 5 fps for 4 s
    assert check_timeline(steady, segment_limits(10), "ok.webm").frames == 20
    with pytest.raises(VideoTimelineRejected, match="more than 10 frames"):
        check_timeline(steady, TimelineLimits(60, 10, 60), "many.webm")
    with pytest.raises(VideoTimelineRejected, match="lasts more than 3 s"):
        check_timeline(steady, TimelineLimits(3, 1000, 60), "long.webm")


def test_issue4_ingest_refuses_a_million_second_webm_fast_and_keeps_what_is_stored(
    settings: Settings, million_second_webm: bytes, tmp_path: Path
) -> None:
    kept = write_video(
        tmp_path / "kept.webm", [np.full((32, 32, 3), 80, np.uint8)] * 5, 5, "libvpx"
    )
    ingest_recording(settings, _identity("kept"), kept)
    before = _snapshot(settings)
    crafted = tmp_path / "crafted.webm"
    crafted.write_bytes(million_second_webm)
    started = time.monotonic()
    with pytest.raises(IngestError, match="webcam recording rejected: crafted.webm: timestamps"):
        ingest_recording(settings, _identity("sess-bomb"), crafted)
    assert time.monotonic() - started < FAST_S
    assert _snapshot(settings) == before


def test_issue4_uploaded_segments_are_bounded_before_transcode(
    settings: Settings, million_second_webm: bytes
) -> None:
    """A segment stored before uploads were checked is still refused by the batch ingest."""
    store = open_object_store(settings)
    key = chunk_key("s-old", "webcam", 0, "webm")
    store.put_bytes(key, million_second_webm)
    manifest = {
        "session_id": "s-old",
        "institution_id": "uni-a",
        "chunks": [{"track": "webcam", "chunk_start_ms": 0, "chunk_end_ms": 10_000,
                    "chunk_index": 0, "original_key": key, "analysis_key": None}],
    }  # fmt: skip
    store.put_bytes(manifest_key("s-old"), json.dumps(manifest).encode())
    before = _snapshot(settings)
    started = time.monotonic()
    with pytest.raises(
        IngestError, match="refused before transcoding: its timeline: timestamps jump"
    ):
        ingest_uploaded_segments(settings, "s-old")
    assert time.monotonic() - started < FAST_S
    assert _snapshot(settings) == before
