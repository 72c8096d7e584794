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
    can_act_on_exams: bool = False
    """Records that may end an exam (through the exam's policy) must come from the product,
    not from anyone who can write to the broker: they are sealed too, and AES-GCM's tag
    authenticates them."""

    @property
    def sealed(self) -> bool:
        """Records are sealed with the session's key (personal data, or authenticated)."""
        return self.carries_personal_data or self.can_act_on_exams


FRAMES_WEBCAM = Topic("frames.webcam", 6, True, "one JPEG per second and its capture time")
FRAMES_SCREEN = Topic("frames.screen", 6, True, "a screen frame every 10 s")
DETECTIONS = Topic(
    "detections",
    6,
    True,
    "per-frame detector output (type, confidence, box); every 30 s a face embedding, biometric"
    " data, so sealed (erasure shreds it)",
)
INCIDENTS = Topic(
    "incidents",
    6,
    False,
    "opened, updated and closed incidents with severity",
    can_act_on_exams=True,
)
PROCTOR_ACTIONS = Topic("proctor.actions", 3, True, "messages, session ends, reviews")
INTEGRITY = Topic(
    "integrity",
    3,
    True,
    "exam page integrity events: tab hidden, focus lost, fullscreen, copy/paste, PrintScreen",
)
SESSIONS = Topic("sessions", 3, True, "session lifecycle: created, verified, started, gap, ended")

ALL_TOPICS: tuple[Topic, ...] = (
    FRAMES_WEBCAM,
    FRAMES_SCREEN,
    DETECTIONS,
    INCIDENTS,
    PROCTOR_ACTIONS,
    SESSIONS,
    INTEGRITY,
)


@dataclass(frozen=True)
class Replication:
    """How many brokers hold each partition, and how many must have a record before
    ``acks=all`` answers (``min.insync.replicas``)."""

    factor: int
    min_insync: int


def replication_for(brokers: int) -> Replication:
    """Three copies on a cluster of three or more, two of which must have every acknowledged
    record: one broker may die (or restart) without losing an accepted record and without
    refusing writes. Fewer brokers keep one copy per broker and cannot promise that."""
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, not {brokers}")
    factor = min(3, brokers)
    return Replication(factor=factor, min_insync=2 if factor >= 3 else 1)
