"""The takeover check's schedule and rule on tiny inputs (issue 13, item 6).

Embeddings here are unit vectors 0.0 (the candidate) or 1.41 (someone else) apart, so the
rule's behaviour is tested apart from the face model; tests/test_models_takeover.py runs it
on real faces.
"""

from __future__ import annotations

import numpy as np

from models.takeover import EmbeddingSchedule, TakeoverReference
from models.temporal_rules import SessionRules, observations_to_flags
from models.webcam import THUMBNAIL_SIZE, WebcamObservation
from proctorlake.core.vocabulary import IncidentState

CANDIDATE = tuple(np.eye(128)[0])
STRANGER = tuple(np.eye(128)[1])
THUMB = bytes(THUMBNAIL_SIZE[0] * THUMBNAIL_SIZE[1] * 3)


def sample(ts: float, embedding: tuple[float, ...] | None) -> WebcamObservation:
    """A frame with no face (so no other rule fires) carrying an embedding or none."""
    return WebcamObservation(ts, 0, (), None, None, None, 640, 480, THUMB, embedding=embedding)


def takeover_flags(samples: list[tuple[float, tuple]], reference=None) -> list:
    flags = observations_to_flags([sample(t, e) for t, e in samples], reference=reference)
    return [f for f in flags if f.type == "different_person"]


def test_the_schedule_embeds_once_per_30_s_window_and_on_return_after_an_absence():
    schedule = EmbeddingSchedule()
    faces = {t: 1 for t in range(0, 100)}
    faces.update({t: 0 for t in range(40, 44)})  # away 4 s: a return
    faces.update({t: 0 for t in range(70, 72)})  # a 2 s dropout: no return sample
    faces.update({t: 2 for t in range(90, 92)})  # two faces: whose is unknown
    due = [t for t in range(0, 100) if schedule.due(float(t), faces[t])]
    assert due == [0, 30, 44, 60, 92]


def test_an_unclear_face_is_not_embedded_and_the_window_waits_for_a_clear_one():
    schedule = EmbeddingSchedule()
    scores = [0.5, 0.7, 0.95, 0.97]  # a hand over the mouth, then the face clear
    assert [schedule.due(float(t), 1, s) for t, s in enumerate(scores)] == [
        False,
        False,
        True,
        False,
    ]


def test_two_stranger_samples_in_a_row_after_the_first_minute_raise_different_person():
    samples = [(0.0, CANDIDATE), (30.0, CANDIDATE), (60.0, CANDIDATE), (75.0, STRANGER)]
    assert takeover_flags(samples) == []  # one sample is not enough
    flags = takeover_flags([*samples, (90.0, STRANGER), (120.0, STRANGER)])
    assert [(f.start_s, f.end_s, f.severity) for f in flags] == [(75.0, 150.0, "high")]
    assert flags[0].frame_timestamps == (75.0, 90.0, 120.0)


def test_a_matching_sample_in_between_clears_a_stranger():
    samples = [(0.0, CANDIDATE), (60.0, STRANGER), (90.0, CANDIDATE), (120.0, STRANGER)]
    assert takeover_flags(samples) == []


def test_the_first_minute_is_the_reference_without_a_verified_identity():
    """Whoever sits the first minute is the reference, so a stranger there is never compared."""
    assert takeover_flags([(0.0, STRANGER), (30.0, STRANGER), (60.0, STRANGER)]) == []


def test_without_a_clear_face_in_the_first_minute_nothing_is_compared():
    """Whoever is clear later does not become the reference."""
    assert takeover_flags([(70.0, CANDIDATE), (90.0, STRANGER), (120.0, STRANGER)]) == []


def test_a_verified_identity_is_the_reference_from_the_first_sample():
    reference = TakeoverReference.of_verified(np.asarray(CANDIDATE))
    flags = takeover_flags([(0.0, STRANGER), (30.0, STRANGER)], reference)
    assert [f.start_s for f in flags] == [0.0]


def test_the_stream_rules_open_and_close_it_as_the_candidate_returns():
    rules = SessionRules("s-takeover")
    events = []
    for t, e in [(0.0, CANDIDATE), (60.0, STRANGER), (90.0, STRANGER), (120.0, CANDIDATE)]:
        events += rules.feed_webcam(sample(t, e))
    kinds = [(e.kind, e.flag.type) for e in events if e.flag.type == "different_person"]
    assert kinds == [
        (IncidentState.OPENED, "different_person"),
        (IncidentState.CLOSED, "different_person"),
    ]


def test_an_observation_with_an_embedding_round_trips_through_its_row_dict():
    observation = sample(3.0, CANDIDATE)
    assert WebcamObservation.from_dict(observation.to_dict()) == observation
    assert WebcamObservation.from_dict(sample(4.0, None).to_dict()).embedding is None
