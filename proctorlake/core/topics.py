"""Kafka topics: names, partitions and whether records carry personal data (then sealed).

Each topic's record type is in :mod:`proctorlake.core.messages`; the event types in
:mod:`proctorlake.core.vocabulary`.

Every record is keyed by ``session_id`` so one session's events stay ordered on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    carries_personal_data: bool
    doc: str


FRAMES_WEBCAM = Topic("frames.webcam", 6, True, "one JPEG per second and its capture time")
FRAMES_SCREEN = Topic("frames.screen", 6, True, "a screen frame every 10 s")
DETECTIONS = Topic("detections", 6, False, "per-frame detector output (type, confidence, box)")
INCIDENTS = Topic("incidents", 6, False, "opened, updated and closed incidents with severity")
PROCTOR_ACTIONS = Topic("proctor.actions", 3, True, "messages, session ends, reviews")
SESSIONS = Topic("sessions", 3, True, "session lifecycle: created, verified, started, gap, ended")

ALL_TOPICS: tuple[Topic, ...] = (
    FRAMES_WEBCAM,
    FRAMES_SCREEN,
    DETECTIONS,
    INCIDENTS,
    PROCTOR_ACTIONS,
    SESSIONS,
)
