"""The same frames through the stream path and the batch path give identical detection rows.

Stream: a frame message -> the detector worker's analysis -> its detections-topic record ->
the lander's ``stream_detections`` row. Batch: the chunk task's detectors ->
``detection_events`` rows. Both use ``models.detection_rows.detector_columns``; this runs both
on the same decoded frames and compares every shared column.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.takeover import EmbeddingSchedule
from proctorlake.core import schemas
from proctorlake.core.messages import FrameMessage
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.samples.screen import demo_screen_segments, render_screen
from realtime.workers.detector_worker import analyze_frames, detection_message
from realtime.workers.topic_lander import detection_row
from spark_jobs.observation_rows import observations_to_rows, run_detectors

SHARED_COLUMNS = sorted(
    set(schemas.STREAM_DETECTIONS.column_names)
    & set(schemas.DETECTION_EVENTS.column_names) - {"session_date"}
)
STARTED_MS = 1_764_500_000_000
CHUNK = {
    "session_id": "s-both",
    "institution_id": "inst-a",
    "chunk_start_ms": 0,
    "session_date": "2025-11-30",
}


def frame_message(track: str, second: float) -> FrameMessage:
    return FrameMessage(
        session_id=CHUNK["session_id"],
        institution_id=CHUNK["institution_id"],
        track=track,
        captured_at_ms=STARTED_MS + round(second * 1000),
        started_at_ms=STARTED_MS,
    )


def compare(stream_rows: list[dict], batch_rows: list[dict]) -> None:
    assert len(stream_rows) == len(batch_rows) > 0
    for stream, batch in zip(stream_rows, batch_rows, strict=True):
        assert {c: stream[c] for c in SHARED_COLUMNS} == {c: batch[c] for c in SHARED_COLUMNS}


@pytest.fixture(scope="module")
def webcam_frames() -> list[np.ndarray]:
    script = WebcamScript(
        (Segment("present", 2.0), Segment("second_person", 2.0), Segment("absent", 2.0))
    )
    return list(render_webcam_frames(script, seed=3, fps=1))


def test_webcam_frames_give_identical_rows_on_both_paths(webcam_frames):
    stamps = [float(i) for i in range(len(webcam_frames))]
    messages = [frame_message("webcam", t) for t in stamps]
    observations = analyze_frames(list(zip(messages, webcam_frames, strict=True)))
    stream_rows = [
        detection_row(detection_message(m, o)) for m, o in zip(messages, observations, strict=True)
    ]
    batch_rows = observations_to_rows(
        CHUNK | {"track": "webcam"}, run_detectors("webcam", webcam_frames, stamps)
    )
    compare(stream_rows, batch_rows)
    assert {row["face_count"] for row in batch_rows} >= {0, 1, 2}  # the frames differ
    assert {row["detection_type"] for row in stream_rows} == {"webcam_frame"}


def test_takeover_embeddings_are_taken_on_the_same_frames_and_stored_alike(webcam_frames):
    """The stream worker's per-session schedule and the chunk task's schedule pick the same
    samples, and the embedding reaches both rows' ``detail`` the same way."""
    stamps = [0.0, 1.0, 30.0, 31.0, 32.0, 33.0]
    frames = [webcam_frames[i] for i in (0, 1, 2, 3, 4, 5)]
    messages = [frame_message("webcam", t) for t in stamps]
    items = list(zip(messages, frames, strict=True))
    schedules: dict[str, EmbeddingSchedule] = {}
    observations = analyze_frames(items[:3], schedules)
    observations += analyze_frames(items[3:], schedules)  # a later poll
    stream_rows = [
        detection_row(detection_message(m, o)) for m, o in zip(messages, observations, strict=True)
    ]
    detected = run_detectors("webcam", frames, stamps, EmbeddingSchedule())
    batch_rows = observations_to_rows(CHUNK | {"track": "webcam"}, detected)
    compare(stream_rows, batch_rows)
    embedded = [json.loads(row["detail"])["embedding"] is not None for row in batch_rows]
    assert embedded == [True, False, True, False, False, False]  # 0 s, then the 30 s window
    assert len(json.loads(batch_rows[0]["detail"])["embedding"]) == 128


def test_screen_frames_give_identical_rows_and_keep_no_window_titles():
    demo = demo_screen_segments()
    segments = (demo[0], demo[3])  # the exam alone, then ChatGPT open beside it
    frames = [render_screen(segment, (1280, 720), seed=i) for i, segment in enumerate(segments)]
    stamps = [0.0, 10.0]
    messages = [frame_message("screen", t) for t in stamps]
    batch_observations = run_detectors("screen", frames, stamps)
    stream_rows = [
        detection_row(detection_message(m, o))
        for m, o in zip(messages, batch_observations, strict=True)
    ]
    batch_rows = observations_to_rows(CHUNK | {"track": "screen"}, batch_observations)
    compare(stream_rows, batch_rows)
    titles = [t for o in batch_observations for t in o.titles if t not in o.banned_titles]
    assert titles, "the sample screens show other window titles"
    assert not any(title in row["detail"] for row in batch_rows for title in titles)
    assert [json.loads(row["detail"])["banned_titles"] for row in stream_rows] == [[], ["ChatGPT"]]
