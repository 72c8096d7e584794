"""Kafka topic names and event types: the stream path's contract.

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


class SessionEvent:
    """Event types carried on the ``sessions`` topic."""

    CREATED = "created"
    VERIFIED = "verified"
    STARTED = "started"
    GAP = "gap"
    ENDED = "ended"


class IncidentEvent:
    """Event types carried on the ``incidents`` topic."""

    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


class ProctorAction:
    """Action types carried on ``proctor.actions`` and stored in ``proctor_actions``."""

    MESSAGE = "message"
    END_SESSION = "end_session"
    REVIEW = "review"
