"""Temporal rules: persistence, hard negatives, ids, and batch == incremental, on real faces."""

from __future__ import annotations

import pytest

from models.temporal_rules import (
    DEFAULT_PARAMS,
    PersistenceTracker,
    SessionRules,
    incident_id,
    observations_to_flags,
)
from models.webcam import analyze_webcam_frames
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames, script_truth


def _run(tracker: PersistenceTracker, positives: list[int], until: int):
    events = []
    for t in range(until):
        events += tracker.observe(float(t), t in positives, 0.8)
    return events + tracker.close()


def test_one_and_two_second_blips_are_not_incidents():
    tracker = PersistenceTracker(DEFAULT_PARAMS.rule("face_not_visible"), "s1")
    assert _run(tracker, [5, 12, 13, 20], until=30) == []


def test_three_seconds_open_an_incident_with_video_timestamps():
    tracker = PersistenceTracker(DEFAULT_PARAMS.rule("face_not_visible"), "s1")
    events = _run(tracker, [10, 11, 12], until=20)
    assert [e.kind for e in events] == ["opened", "closed"]
    flag = events[-1].flag
    assert (flag.start_s, flag.end_s, flag.frame_timestamps) == (10.0, 13.0, (10.0, 11.0, 12.0))
    assert flag.severity == "low" and flag.confidence == pytest.approx(0.8)


def test_one_missed_second_does_not_split_an_incident_but_two_do():
    rule = DEFAULT_PARAMS.rule("multiple_faces")
    joined = [e for e in _run(PersistenceTracker(rule), [*range(10, 15), *range(16, 22)], 30)]
    assert [(e.kind, e.flag.start_s, e.flag.end_s) for e in joined if e.kind == "closed"] == [
        ("closed", 10.0, 22.0)
    ]
    split = _run(PersistenceTracker(rule), [*range(10, 15), *range(17, 22)], 30)
    assert [e.flag.start_s for e in split if e.kind == "closed"] == [10.0, 17.0]


def test_severity_grows_with_duration_and_ids_are_deterministic():
    tracker = PersistenceTracker(DEFAULT_PARAMS.rule("face_not_visible"), "sess")
    flag = _run(tracker, list(range(100, 140)), until=150)[-1].flag
    assert flag.severity == "high"
    assert incident_id("sess", "face_not_visible", 100.4) == incident_id(
        "sess", "face_not_visible", 100.9
    )
    assert incident_id("sess", "face_not_visible", 100) != incident_id("sess", "gaze_away", 100)
    assert incident_id("sess", "face_not_visible", 100) != incident_id(
        "other", "face_not_visible", 100
    )


@pytest.fixture(scope="module")
def exam_observations():
    """A 60 s exam on real faces: every kind of event and every hard negative."""
    script = WebcamScript(
        (
            Segment("present", 12),
            Segment("second_person", 6),
            Segment("present", 6),
            Segment("glance", 1.5, yaw_deg=55),
            Segment("present", 5.5),
            Segment("turned", 6, yaw_deg=-55),
            Segment("present", 5),
            Segment("dropout", 2),
            Segment("present", 5),
            Segment("absent", 6),
            Segment("present", 5, gamma=2.2),
        ),
        "grace_hopper",
        "astronaut",
        background_seed=7,
    )
    frames = list(render_webcam_frames(script, seed=7, fps=1))
    return script, analyze_webcam_frames(frames, [float(t) for t in range(len(frames))])


def test_real_exam_gives_each_event_once_and_no_hard_negative(exam_observations):
    script, observations = exam_observations
    flags = observations_to_flags(observations, session_id="exam")
    truth = {(e.type, e.start_s) for e in script_truth(script)}
    assert truth == {("multiple_faces", 12.0), ("gaze_away", 31.0), ("face_not_visible", 49.0)}
    assert [f.type for f in flags] == ["multiple_faces", "gaze_away", "face_not_visible"]
    for flag, (start, end) in zip(flags, [(12, 18), (31, 37), (49, 55)], strict=True):
        assert abs(flag.start_s - start) <= 1.5 and abs(flag.end_s - end) <= 1.5
        assert 0 < flag.confidence <= 1 and flag.severity in ("low", "medium", "high")


def test_incremental_events_end_in_the_same_flags_as_the_batch_call(exam_observations):
    _, observations = exam_observations
    rules = SessionRules("exam")
    events = []
    for obs in observations:
        events += rules.feed_webcam(obs)
    events += rules.finish()
    closed = [e.flag for e in events if e.kind == "closed"]
    assert sorted(closed, key=lambda f: f.start_s) == observations_to_flags(observations)
    opened = {e.incident_id for e in events if e.kind == "opened"}
    assert opened == {e.incident_id for e in events if e.kind == "closed"}
    assert rules.neutral_pose is not None and abs(rules.neutral_pose[0]) < 15
