"""One typed, versioned record per topic: the only shape a Kafka payload may have.

Producers build one of these records and hand it to
:func:`proctorlake.governance.sealed_topics.publish` (the one place that sends to Kafka);
consumers get the same class back from :func:`~proctorlake.governance.sealed_topics.decode`.
Every record carries its schema version ``v``: a reader refuses a version it does not know
instead of guessing at fields. The JSON Schema of each record is generated into
``docs/contracts/`` (``python -m proctorlake.core.messages docs/contracts``), and a unit test
keeps those files current.

Frames are the one binary payload: :class:`FrameMessage` is carried in the record's headers
(routing metadata only, no personal data) and the record's value is the sealed image.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proctorlake.core.policy import IntegrityThresholds
from proctorlake.core.topics import (
    DETECTIONS,
    FRAMES_SCREEN,
    FRAMES_WEBCAM,
    INCIDENTS,
    INTEGRITY,
    PROCTOR_ACTIONS,
    SESSIONS,
    Topic,
)
from proctorlake.core.vocabulary import (
    IncidentState,
    IncidentType,
    IntegrityEventType,
    IntegrityPhase,
    ProctorActionType,
    SessionEventType,
    Severity,
    Tier,
    Track,
)


class MessageFormatError(ValueError):
    """A record that is not a valid message of its topic (bad JSON, fields or version)."""


class TopicMessage(BaseModel):
    """Base of every topic's record: keyed by ``session_id``, versioned by ``v``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[Topic]
    VERSION: ClassVar[int] = 1

    v: int = Field(1, description="schema version of this record")
    session_id: str = Field(description="the record key: one session stays on one partition")

    @property
    def topic(self) -> Topic:
        return self.TOPIC

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Self:
        try:
            payload = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageFormatError(f"{cls.TOPIC.name}: not JSON ({exc})") from exc
        return cls.from_payload(payload)

    @classmethod
    def from_payload(cls, payload: object) -> Self:
        if not isinstance(payload, dict):
            raise MessageFormatError(f"{cls.TOPIC.name}: a record must be a JSON object")
        version = payload.get("v", 1)
        if version != cls.VERSION:
            raise MessageFormatError(
                f"{cls.TOPIC.name}: schema version {version!r} is not the {cls.VERSION} "
                "this reader knows; upgrade the reader before the writer"
            )
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise MessageFormatError(f"{cls.TOPIC.name}: {exc}") from exc


class FrameMessage(TopicMessage):
    """Headers of a ``frames.webcam`` / ``frames.screen`` record (the value is the sealed
    image; an empty value with ``end_of_session`` marks the session's last frame)."""

    TOPIC: ClassVar[Topic] = FRAMES_WEBCAM

    institution_id: str
    track: Track
    captured_at_ms: int = Field(description="capture time on the client, ms since the epoch")
    started_at_ms: int = Field(description="the session's start, ms since the epoch")
    end_of_session: bool = False

    @property
    def topic(self) -> Topic:
        return FRAMES_WEBCAM if self.track == Track.WEBCAM else FRAMES_SCREEN

    @property
    def frame_ts(self) -> float:
        """Seconds since the session started (the rules' clock)."""
        return round((self.captured_at_ms - self.started_at_ms) / 1000.0, 3)

    def to_headers(self) -> list[tuple[str, bytes]]:
        fields = self.model_dump(mode="json", exclude={"session_id"})
        return [(name, json.dumps(value).encode("utf-8")) for name, value in fields.items()]

    @classmethod
    def from_headers(cls, session_id: str, headers: list[tuple[str, bytes]] | None) -> Self:
        try:
            payload = {name: json.loads(value) for name, value in headers or []}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageFormatError(f"frames: header is not JSON ({exc})") from exc
        return cls.from_payload({**payload, "session_id": session_id})


class DetectionMessage(TopicMessage):
    """What the detectors saw on one frame; the detector columns are
    :func:`models.detection_rows.detector_columns`, the same function the batch path uses."""

    TOPIC: ClassVar[Topic] = DETECTIONS

    institution_id: str
    track: Track
    frame_ts: float = Field(description="seconds since the session started")
    captured_at_ms: int
    detection_type: str
    confidence: float = Field(ge=0.0, le=1.0)
    face_count: int | None = None
    bbox_x: int | None = None
    bbox_y: int | None = None
    bbox_w: int | None = None
    bbox_h: int | None = None
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    detail: str = Field(description="the full observation as JSON (the rules' input)")
    model_version: str


class IncidentMessage(TopicMessage):
    """An incident as the shared temporal rules see it: facts only. What alerts a proctor
    and what acts on a session is the API's decision, from the exam's policy."""

    TOPIC: ClassVar[Topic] = INCIDENTS

    incident_id: str
    institution_id: str
    incident_type: IncidentType
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    start_s: float
    end_s: float
    state: IncidentState
    trigger_captured_at_ms: int = Field(description="capture time of the frame that caused it")
    event_at_ms: int = Field(description="when the worker published it")


class ProctorActionMessage(TopicMessage):
    """A proctor's (or the policy's) action, audited in ``proctor_actions`` before it is sent."""

    TOPIC: ClassVar[Topic] = PROCTOR_ACTIONS

    action_id: str
    institution_id: str
    proctor_id: str
    action_type: ProctorActionType
    message: str | None = None
    created_at: dt.datetime


class SessionEventMessage(TopicMessage):
    """A session's lifecycle event; ``verified`` events carry the identity check's outcome,
    ``gap`` events the silent interval."""

    TOPIC: ClassVar[Topic] = SESSIONS

    event: SessionEventType
    institution_id: str
    student_id: str
    exam_id: str
    tier: Tier | None = None
    status: str | None = None
    at: dt.datetime
    gap_from_ms: int | None = None
    gap_to_ms: int | None = None
    record_id: str | None = None
    verified: bool | None = None
    review_required: bool | None = None
    similarity_score: float | None = None
    reasons: list[str] | None = None


class IntegrityEventMessage(TopicMessage):
    """One fact the exam page reported (tab hidden, paste, ...), with the session's
    thresholds from its exam policy so the incident aggregator applies the exam's own."""

    TOPIC: ClassVar[Topic] = INTEGRITY

    event_id: str
    institution_id: str
    kind: IntegrityEventType
    phase: IntegrityPhase
    occurred_at_ms: int = Field(description="when it happened on the client, ms since the epoch")
    session_ts: float = Field(description="seconds since the session started (the rules' clock)")
    width: int | None = Field(None, description="window_size: the window's inner width")
    height: int | None = Field(None, description="window_size: the window's inner height")
    thresholds: IntegrityThresholds


MESSAGES: tuple[type[TopicMessage], ...] = (
    FrameMessage,
    DetectionMessage,
    IncidentMessage,
    ProctorActionMessage,
    SessionEventMessage,
    IntegrityEventMessage,
)
"""Every topic's record type (``FrameMessage`` serves both frames topics)."""

MESSAGE_BY_TOPIC: dict[str, type[TopicMessage]] = {
    FRAMES_WEBCAM.name: FrameMessage,
    FRAMES_SCREEN.name: FrameMessage,
    DETECTIONS.name: DetectionMessage,
    INCIDENTS.name: IncidentMessage,
    PROCTOR_ACTIONS.name: ProctorActionMessage,
    SESSIONS.name: SessionEventMessage,
    INTEGRITY.name: IntegrityEventMessage,
}


def json_schemas() -> dict[str, dict]:
    """File name -> JSON Schema of each record type (what ``docs/contracts/`` holds)."""
    schemas = {}
    for message in MESSAGES:
        schema = message.model_json_schema()
        topics = sorted(name for name, cls in MESSAGE_BY_TOPIC.items() if cls is message)
        schema["description"] = (
            f"{(message.__doc__ or '').strip()}\n\nTopics: {', '.join(topics)}; "
            f"schema version {message.VERSION}."
        )
        schemas[f"{message.__name__}.schema.json"] = schema
    return schemas


def write_json_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_json_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contracts")):
        print(path)
