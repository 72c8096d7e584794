"""The registry of exam sessions the realtime API serves.

Delta ``exam_sessions`` is the record: a session row is merged when the session is created,
starts or ends (one group commit for the changes that arrive together), and every change is
also published on the ``sessions`` topic (sealed, it names the student) after its row is
committed. Memory is only a cache: after a restart the API reads the state it needs
(institution, tier, policy, ended or not) back from Delta. The cache lock is never held
across I/O; a session's own transitions are serialised by its stripe of ``_transition_locks``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.core.topics import FRAMES_SCREEN, FRAMES_WEBCAM, SESSIONS, SessionEvent
from proctorlake.storage import kafka_io, lake
from realtime.api.group_commit import GroupCommit

TIERS = ("none", "ai", "ai_human")
SEVERITIES = ("low", "medium", "high")
OPEN_STATUSES = ("created", "active")
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
TRANSITION_STRIPES = 64


class UnknownSession(LookupError):
    """No session with this id exists."""


class SessionClosed(RuntimeError):
    """The session has ended or was terminated; it accepts no more input."""


@dataclass(frozen=True)
class ExamPolicy:
    """What the realtime path does with an exam's incidents.

    ``extreme_incident_types`` are the only incidents that trigger an automatic action
    (ending the session); every other flag only queues for human review.
    ``liveness_required``: the identity check needs a selfie burst that shows a live person
    (the default; an exam may waive it, e.g. for a supervised test centre).
    """

    extreme_incident_types: tuple[str, ...] = ("different_person",)
    alert_min_severity: str = "medium"
    liveness_required: bool = True

    def to_json(self) -> str:
        return json.dumps(
            {
                "extreme_incident_types": list(self.extreme_incident_types),
                "alert_min_severity": self.alert_min_severity,
                "liveness_required": self.liveness_required,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> ExamPolicy:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            tuple(data.get("extreme_incident_types", ())),
            data["alert_min_severity"],
            bool(data.get("liveness_required", True)),
        )


@dataclass(frozen=True)
class ExamSession:
    session_id: str
    institution_id: str
    student_id: str
    exam_id: str
    tier: str
    status: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    policy: ExamPolicy = field(default_factory=ExamPolicy)
    student_name: str | None = None  # from the roster (session creation or LMS launch)
    student_id_number: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def started_at_ms(self) -> int | None:
        return int(self.started_at.timestamp() * 1000) if self.started_at else None

    def row(self) -> dict:
        return {
            "session_id": self.session_id,
            "institution_id": self.institution_id,
            "student_id": self.student_id,
            "student_name": self.student_name,
            "student_id_number": self.student_id_number,
            "exam_id": self.exam_id,
            "tier": self.tier,
            "policy_json": self.policy.to_json(),
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "session_date": self.created_at.date().isoformat(),
        }


def validate_id(name: str, value: str) -> None:
    if not value or not _ID.match(value):
        raise ValueError(f"{name} {value!r} is malformed: use 1-128 letters, digits, '.', '_', '-'")


def _session_from_row(row: dict) -> ExamSession:
    return ExamSession(
        session_id=row["session_id"],
        institution_id=row["institution_id"],
        student_id=row["student_id"],
        exam_id=row["exam_id"],
        tier=row["tier"] or "ai_human",
        status=row["status"] or "created",
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        policy=ExamPolicy.from_json(row.get("policy_json")),
        student_name=row.get("student_name"),
        student_id_number=row.get("student_id_number"),
    )


class SessionRegistry:
    """Create, look up, start and end sessions; thread-safe within one process."""

    def __init__(self, settings: Settings, producer) -> None:
        self.settings = settings
        self.producer = producer
        self._sessions: dict[str, ExamSession] = {}
        self._lock = threading.Lock()
        self._transition_locks = [threading.Lock() for _ in range(TRANSITION_STRIPES)]
        self._rows = GroupCommit(
            lambda rows: lake.merge_rows(settings, schemas.EXAM_SESSIONS, rows, ["session_id"]),
            key=lambda row: row["session_id"],
        )

    def _transition_lock(self, session_id: str) -> threading.Lock:
        return self._transition_locks[hash(session_id) % TRANSITION_STRIPES]

    def load_open_sessions(self) -> int:
        """Warm the cache with every open session in Delta (after an API restart)."""
        table = lake.read_table(self.settings, schemas.EXAM_SESSIONS.name)
        table = table.filter(
            pc.is_in(table["status"], value_set=pa.array(OPEN_STATUSES, pa.string()))
        )
        with self._lock:
            for row in table.to_pylist():
                self._sessions[row["session_id"]] = _session_from_row(row)
        return table.num_rows

    def create(
        self,
        exam_id: str,
        student_id: str,
        institution_id: str,
        tier: str = "ai_human",
        policy: ExamPolicy | None = None,
        student_name: str | None = None,
        student_id_number: str | None = None,
    ) -> ExamSession:
        for name, value in (
            ("exam_id", exam_id),
            ("student_id", student_id),
            ("institution_id", institution_id),
        ):
            validate_id(name, value)
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, not {tier!r}")
        session = ExamSession(
            session_id=f"s-{uuid.uuid4().hex}",
            institution_id=institution_id,
            student_id=student_id,
            exam_id=exam_id,
            tier=tier,
            status="created",
            created_at=dt.datetime.now(dt.UTC),
            policy=policy or ExamPolicy(),
            student_name=student_name,
            student_id_number=student_id_number,
        )
        self._write(session)
        self._publish(session, SessionEvent.CREATED)
        return session

    def get(self, session_id: str) -> ExamSession:
        with self._lock:
            cached = self._sessions.get(session_id)
        if cached is not None:
            return cached
        if not _ID.match(session_id or ""):
            raise UnknownSession(session_id)
        dt_table = lake.open_table(self.settings, schemas.EXAM_SESSIONS.name)
        if dt_table is None:
            raise UnknownSession(session_id)
        rows = (
            dt_table.to_pyarrow_dataset()
            .to_table(filter=pc.field("session_id") == session_id)
            .to_pylist()
        )
        if not rows:
            raise UnknownSession(session_id)
        session = _session_from_row(rows[0])
        with self._lock:
            self._sessions.setdefault(session_id, session)
            return self._sessions[session_id]

    def open_sessions(self, institution_id: str) -> list[ExamSession]:
        with self._lock:
            return sorted(
                (
                    s
                    for s in self._sessions.values()
                    if s.institution_id == institution_id and s.is_open
                ),
                key=lambda s: s.created_at,
            )

    def start(self, session_id: str, started_at: dt.datetime) -> ExamSession:
        """Mark the session active; the first start wins (a reconnecting client continues)."""
        with self._transition_lock(session_id):
            session = self.require_open(session_id)
            if session.started_at is not None:
                return session
            session = replace(session, status="active", started_at=started_at)
            self._write(session)
        self._publish(session, SessionEvent.STARTED)
        return session

    def end(self, session_id: str, status: str = "ended") -> ExamSession:
        """End the session (idempotent: an ended session stays as it ended)."""
        if status not in ("ended", "terminated"):
            raise ValueError(f"cannot end a session with status {status!r}")
        with self._transition_lock(session_id):
            session = self.get(session_id)
            if not session.is_open:
                return session
            session = replace(session, status=status, ended_at=dt.datetime.now(dt.UTC))
            self._write(session)
        self._publish(session, SessionEvent.ENDED)
        self._mark_end_of_frames(session)
        return session

    def record_gap(self, session: ExamSession, from_ms: int, to_ms: int) -> None:
        self._publish(session, SessionEvent.GAP, gap_from_ms=from_ms, gap_to_ms=to_ms)

    def require_open(self, session_id: str) -> ExamSession:
        session = self.get(session_id)
        if not session.is_open:
            raise SessionClosed(f"session {session_id} is {session.status}")
        return session

    def _write(self, session: ExamSession) -> None:
        """Commit the session's row, then cache it (a failed commit changes nothing)."""
        self._rows.write(session.row())
        with self._lock:
            self._sessions[session.session_id] = session

    def _mark_end_of_frames(self, session: ExamSession) -> None:
        """An empty record after the last frame, on each frames topic's partition of the
        session: the webcam and screen workers close its open incidents when they reach it."""
        ended_ms = int(session.ended_at.timestamp() * 1000)
        metadata = kafka_io.headers(
            captured_at_ms=ended_ms,
            started_at_ms=session.started_at_ms or ended_ms,
            institution_id=session.institution_id,
            tier=session.tier,
            alert_min_severity=session.policy.alert_min_severity,
            extreme=",".join(session.policy.extreme_incident_types),
            end_of_session=1,
        )
        sent = [
            self.producer.send(topic.name, key=session.session_id, value=b"", headers=metadata)
            for topic in (FRAMES_WEBCAM, FRAMES_SCREEN)
        ]
        for future in sent:
            future.get(timeout=15)

    def _publish(self, session: ExamSession, event_type: str, **extra: int) -> None:
        event = {
            "event": event_type,
            "session_id": session.session_id,
            "institution_id": session.institution_id,
            "student_id": session.student_id,
            "exam_id": session.exam_id,
            "tier": session.tier,
            "status": session.status,
            "at": dt.datetime.now(dt.UTC).isoformat(),
            **extra,
        }
        value = kafka_io.encode_event(self.settings, SESSIONS, session.session_id, event)
        self.producer.send(SESSIONS.name, key=session.session_id, value=value).get(timeout=15)
