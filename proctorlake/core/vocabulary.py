"""The words both paths, the API and the pages share: severities, tracks, tiers, incident
types and the event types of each topic. Each is an enum owned here and nowhere else; the
pages read them from ``GET /vocabulary``.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Incident severity, declared in rank order (lowest first)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    @classmethod
    def rank_of(cls, value: str | None) -> int:
        """Rank of a severity name; -1 for none or an unknown name (ranks below all)."""
        try:
            return cls(value).rank
        except ValueError:
            return -1


SEVERITY_WEIGHT: dict[str, float] = {"high": 30.0, "medium": 15.0, "low": 5.0}
"""Points per incident of each severity (times its confidence): the session report's risk
score and the review queue's score both weigh incidents by these."""


class Track(StrEnum):
    WEBCAM = "webcam"
    SCREEN = "screen"


class RecordingMode(StrEnum):
    """Who records an exam: the media gateway (default; the student's browser never holds the
    evidence) or the browser's MediaRecorder upload (fallback for networks that block WebRTC)."""

    SERVER = "server"
    CLIENT = "client"


class Tier(StrEnum):
    """The institution's proctoring tier for an exam (shown to the student at check-in)."""

    NONE = "none"
    AI = "ai"
    AI_HUMAN = "ai_human"


HUMAN_PROCTORED_TIERS: tuple[Tier, ...] = (Tier.AI_HUMAN,)
"""Tiers whose incidents reach a live proctor page."""


class IncidentType(StrEnum):
    MULTIPLE_FACES = "multiple_faces"
    FACE_NOT_VISIBLE = "face_not_visible"
    GAZE_AWAY = "gaze_away"
    UNAUTHORIZED_APP = "unauthorized_app"
    STREAM_GAP = "stream_gap"


DETECTED_INCIDENT_TYPES: tuple[IncidentType, ...] = (
    IncidentType.MULTIPLE_FACES,
    IncidentType.FACE_NOT_VISIBLE,
    IncidentType.GAZE_AWAY,
    IncidentType.UNAUTHORIZED_APP,
)
"""What the shared temporal rules raise from detector output (both paths)."""

EMITTED_INCIDENT_TYPES: tuple[IncidentType, ...] = (
    *DETECTED_INCIDENT_TYPES,
    IncidentType.STREAM_GAP,
)
"""Every incident type something in the product emits: a policy may name only these."""


class IncidentState(StrEnum):
    """Lifecycle of an incident on the ``incidents`` topic."""

    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


class SessionEventType(StrEnum):
    """Event types carried on the ``sessions`` topic."""

    CREATED = "created"
    VERIFIED = "verified"
    STARTED = "started"
    GAP = "gap"
    ENDED = "ended"


class ProctorActionType(StrEnum):
    """Action types carried on ``proctor.actions`` and stored in ``proctor_actions``."""

    MESSAGE = "message"
    END_SESSION = "end_session"
    REVIEW = "review"


class SuppressionReason(StrEnum):
    """Why a flag was counted instead of raised (``proctorlake.core.accommodations``)."""

    EXEMPT = "exempt"
    THRESHOLD = "threshold"
    BREAK = "break"


class AutomaticAction(StrEnum):
    """What an exam policy may do on its own when an extreme incident opens."""

    END_SESSION = "end_session"


def vocabulary() -> dict[str, list[str]]:
    """Every enum's values in declaration order (severities lowest first), for the pages."""
    return {
        "severities": [s.value for s in Severity],
        "tracks": [t.value for t in Track],
        "tiers": [t.value for t in Tier],
        "incident_types": [t.value for t in IncidentType],
        "incident_states": [s.value for s in IncidentState],
    }
