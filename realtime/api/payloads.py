"""Request and response bodies of the realtime API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from proctorlake.core.ids import ID_PATTERN, MAX_ID_LENGTH
from proctorlake.core.policy import ExamPolicy
from proctorlake.core.vocabulary import EMITTED_INCIDENT_TYPES, RecordingMode, Severity

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
EmittedIncidentType = Literal[tuple(t.value for t in EMITTED_INCIDENT_TYPES)]  # type: ignore[valid-type]


class PolicyIn(BaseModel):
    extreme_incident_types: list[EmittedIncidentType] = Field(
        default=[],
        description="incident types that end the session automatically (none by default); "
        "all others only queue for human review",
    )
    alert_min_severity: Severity = Severity.MEDIUM
    liveness_required: bool = Field(
        default=True, description="the identity check needs a live selfie burst"
    )
    recording: RecordingMode = Field(
        default=RecordingMode.SERVER,
        description="server: the media gateway records; client: the browser uploads "
        "MediaRecorder segments (for networks that block WebRTC)",
    )

    def to_policy(self) -> ExamPolicy:
        return ExamPolicy(
            tuple(self.extreme_incident_types),
            self.alert_min_severity,
            self.liveness_required,
            self.recording,
        )


class SessionCreate(BaseModel):
    exam_id: Id
    student_id: Id
    institution_id: Id
    student_name: str | None = Field(
        default=None, max_length=200, description="the roster's name, checked against the ID card"
    )
    student_id_number: str | None = Field(
        default=None, max_length=64, description="the roster's ID-card number, checked likewise"
    )
    tier: Literal["none", "ai", "ai_human"] = "ai_human"
    policy: PolicyIn = Field(default_factory=PolicyIn)


class SessionEndpoints(BaseModel):
    session: str
    start: str
    webcam_frames: str
    screen_frames: str
    webcam_chunks: str
    screen_chunks: str
    events: str
    exam_page: str


class SessionCreated(BaseModel):
    session_id: str
    token: str
    token_expires_at: dt.datetime
    tier: str
    frame_interval_s: dict[str, float]
    segment_seconds: int
    endpoints: SessionEndpoints


class SessionInfo(BaseModel):
    session_id: str
    institution_id: str
    exam_id: str
    tier: str
    status: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    recording: RecordingMode = RecordingMode.SERVER


class GatewayRoomInfo(BaseModel):
    """Where the exam page publishes its media (the session's VideoRoom on the gateway)."""

    url: str
    room: str
    pin: str


class SessionStart(BaseModel):
    started_at_ms: int | None = Field(
        default=None, ge=0, description="client clock at recording start (epoch ms)"
    )


class FrameAccepted(BaseModel):
    session_id: str
    track: str
    captured_at_ms: int
    published: bool = Field(description="false for tier 'none': kept as thumbnail only")
    partition: int | None
    offset: int | None
    gap_before_ms: int | None = Field(
        default=None, description="set when this frame follows a stream gap (reconnect)"
    )


class ChunkStored(BaseModel):
    session_id: str
    track: str
    key: str
    chunk_index: int
    chunk_start_ms: int
    chunk_end_ms: int
    bytes: int
    new: bool


class ActionIn(BaseModel):
    type: Literal["message", "end_session"]
    message: str | None = Field(default=None, max_length=2000)


class ActionRecorded(BaseModel):
    action_id: str
    session_id: str
    proctor_id: str
    action_type: str
    message: str | None
    created_at: dt.datetime


class ReviewIn(BaseModel):
    resolution: Literal["confirmed", "dismissed"]


class ReviewRecordedOut(BaseModel):
    incident_id: str
    session_id: str
    resolution: str
    reviewed_by: str
    reviewed_at: dt.datetime
    action_id: str
    in_batch: bool = Field(description="the batch analysis had found this incident")
    in_stream: bool = Field(description="the realtime path had found this incident")


class Incident(BaseModel):
    incident_id: str
    session_id: str
    incident_type: str
    severity: str
    confidence: float
    start_s: float
    end_s: float
    state: str
    auto_action: str | None = None


class Review(BaseModel):
    """An item a human must look at outside the incident timeline (a failed identity check)."""

    kind: Literal["identity"] = "identity"
    record_id: str
    session_id: str
    verified: bool
    review_required: bool
    similarity_score: float | None
    reasons: list[str]
    at: dt.datetime


class LiveSession(BaseModel):
    session_id: str
    exam_id: str
    student_id: str
    status: str
    tier: str
    started_at: dt.datetime | None
    max_severity: str | None
    open_incidents: int
    incidents: list[Incident]
    reviews: list[Review] = Field(default_factory=list, description="identity checks to review")
