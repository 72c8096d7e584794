"""Takeover on real faces (issue 13, item 6): a synthetic swap is raised on both paths, the
same person after an absence and a change of light is not.

The recordings are seeded renders of real face photos (``proctorlake.samples``): the
candidate sits the first minute, leaves for 4 s, and either comes back or someone else sits
down in the same place. The batch path runs the Spark task's detectors
(``spark_jobs.observation_rows.run_detectors`` with one schedule per chunk) and the shared
rules; the stream path runs the detector worker's analysis and the incident aggregator.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.takeover import EmbeddingSchedule
from models.temporal_rules import observations_to_flags
from proctorlake.core.messages import FrameMessage
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from realtime.workers.detector_worker import analyze_frames
from realtime.workers.incident_aggregator import IncidentAggregator, SessionMeta
from spark_jobs.detect_chunks import FRAME_BATCH
from spark_jobs.observation_rows import run_detectors

STARTED_MS = 1_764_500_000_000


def script(after: Segment, face: str, second_face: str) -> WebcamScript:
    return WebcamScript(
        (Segment("present", 62.0), Segment("absent", 4.0), after),
        face=face,
        second_face=second_face,
        background_seed=5,
    )


@pytest.fixture(scope="module")
def swap() -> list[np.ndarray]:
    takeover = script(Segment("takeover", 64.0), "astronaut", "grace_hopper")
    return list(render_webcam_frames(takeover, seed=11, fps=1))


@pytest.fixture(scope="module")
def same_person() -> list[np.ndarray]:
    back_in_dim_light = script(Segment("present", 64.0, gamma=1.8), "grace_hopper", "astronaut")
    return list(render_webcam_frames(back_in_dim_light, seed=12, fps=1))


def batch_flags(frames: list[np.ndarray]) -> list:
    schedule = EmbeddingSchedule()
    observations = []
    for i in range(0, len(frames), FRAME_BATCH):
        batch = frames[i : i + FRAME_BATCH]
        stamps = [float(t) for t in range(i, i + len(batch))]
        observations += run_detectors("webcam", batch, stamps, schedule)
    return [f for f in observations_to_flags(observations) if f.type == "different_person"]


def stream_incidents(frames: list[np.ndarray], session_id: str) -> list:
    aggregator, schedules, messages = IncidentAggregator(), {}, []
    meta = SessionMeta(session_id, "inst-a")
    for i in range(0, len(frames), 8):
        items = [
            (
                FrameMessage(
                    session_id=session_id,
                    institution_id="inst-a",
                    track="webcam",
                    captured_at_ms=STARTED_MS + second * 1000,
                    started_at_ms=STARTED_MS,
                ),
                frames[second],
            )
            for second in range(i, min(i + 8, len(frames)))
        ]
        for (frame, _), observation in zip(
            items, analyze_frames(items, schedules=schedules), strict=True
        ):
            messages += aggregator.observe(meta, observation, frame.captured_at_ms, 0)
    messages += aggregator.finish(meta, STARTED_MS + len(frames) * 1000, 0)
    return [m for m in messages if m.incident_type == "different_person"]


def test_a_swap_after_an_absence_is_raised_by_the_batch_path(swap):
    flags = batch_flags(swap)
    assert len(flags) == 1
    assert 66.0 <= flags[0].start_s <= 67.0  # the stranger's first sample, on return
    assert flags[0].severity == "high"


def test_a_swap_is_raised_by_the_stream_path(swap):
    incidents = stream_incidents(swap, "s-swap")
    assert {m.state for m in incidents} >= {"opened", "closed"}
    assert 66.0 <= incidents[0].start_s <= 67.0


def test_the_same_person_returning_in_dim_light_raises_nothing(same_person):
    assert batch_flags(same_person) == []
    assert stream_incidents(same_person, "s-same") == []
