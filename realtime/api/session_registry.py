"""The registry of exam sessions the realtime API serves.

Delta ``exam_sessions`` is the record: a session row is merged when the session is created,
starts or ends (one group commit for the changes that arrive together), and every change is
also published on the ``sessions`` topic (sealed, it names the student) after its row is
committed. Memory is only a cache: after a restart the API reads the state it needs
(institution, tier, policy, ended or not) back from Delta. The cache lock is never held
across I/O.

Several API processes may serve one session (they share PROCTORLAKE_HOME and the cluster), so
no process trusts its cache for a transition: ``start`` and ``end`` hold the session's
transition lock (a stripe in this process, then an ``flock`` shared with the others) and
re-read the row from Delta inside it, so the first start and the first end win everywhere.
Every process follows the ``sessions`` topic and calls ``refresh`` on each lifecycle event,
so a session created or ended through another process is listed, or not, here too. Activity
is shared the same way: ``touch`` stamps a per-session file at most every
``ACTIVITY_STAMP_EVERY_S``, and a session is idle only when no process has stamped it.

The cache is bounded: ``sweep`` (run every few seconds by the API's janitor) ends open
sessions idle past ``session_idle_timeout_s`` or older than ``session_max_duration_s`` (an
``ended`` event like any other end), forgets ended sessions after ``ended_session_grace_s``,
keeps at most ``session_cache_cap`` of them meanwhile, and tells ``on_evict`` listeners so
other per-session caches go too. Ending a session revokes its student's tokens.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.ids import check_id, is_valid_id
from proctorlake.core.messages import FrameMessage, SessionEventMessage
from proctorlake.core.policy import ExamPolicy
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import SessionEventType, Tier, Track
from proctorlake.governance import erased_sessions, sealed_topics
from proctorlake.governance.erased_sessions import SessionErased
from proctorlake.storage import lake
from proctorlake.storage.file_lock import exclusive_lock
from realtime.api.auth import revoke_session_tokens
from realtime.api.group_commit import GroupCommit

OPEN_STATUSES = ("created", "active")
TRANSITION_STRIPES = 64
ACTIVITY_STAMP_EVERY_S = 30.0
"""How often a process stamps a session's shared activity file: far below any idle timeout
(hours by default), and one ``utime`` a session per half minute costs nothing."""


class UnknownSession(LookupError):
    """No session with this id exists."""


class SessionClosed(RuntimeError):
    """The session has ended or was terminated; it accepts no more input."""


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
    check_id(name, value)


def transition_lock_path(settings: Settings, session_id: str) -> Path:
    """The session's cross-process transition lock, in its cache folder (erasure removes it)."""
    return settings.home / "cache" / "session-locks" / session_id / "transition.lock"


def activity_stamp_path(settings: Settings, session_id: str) -> Path:
    """A file whose modification time is the session's last upload seen by any API process."""
    return settings.home / "cache" / "session-activity" / session_id / "last-upload"


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
        policy=ExamPolicy.from_stored_json(row.get("policy_json")),
        student_name=row.get("student_name"),
        student_id_number=row.get("student_id_number"),
    )


class SessionRegistry:
    """Create, look up, start and end sessions; thread-safe within one process."""

    def __init__(self, settings: Settings, producer) -> None:
        self.settings = settings
        self.producer = producer
        self._sessions: dict[str, ExamSession] = {}
        self._last_activity: dict[str, float] = {}  # open sessions: monotonic time
        self._closed_since: dict[str, float] = {}  # closed sessions, oldest first
        self.on_evict: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        self._transition_locks = [threading.Lock() for _ in range(TRANSITION_STRIPES)]
        self._stamped: dict[str, float] = {}  # open sessions: when this process last stamped
        self._rows = GroupCommit(
            lambda rows: erased_sessions.merge_unerased_rows(
                settings, schemas.EXAM_SESSIONS, rows, ["session_id"]
            ),
            key=lambda row: row["session_id"],
        )

    @contextmanager
    def _transition(self, session_id: str) -> Iterator[ExamSession]:
        """Hold the session's transition lock (this process's stripe, then the ``flock`` all
        processes share) and yield its row as Delta has it now, not as this cache had it."""
        if not is_valid_id(session_id or ""):
            raise UnknownSession(session_id)
        if erased_sessions.is_erased(self.settings, session_id):
            raise SessionErased(f"session {session_id} was erased")  # no lock file for it again
        stripe = self._transition_locks[hash(session_id) % TRANSITION_STRIPES]
        with stripe, exclusive_lock(transition_lock_path(self.settings, session_id)):
            yield self.refresh(session_id)

    def refresh(self, session_id: str) -> ExamSession:
        """Read the session's row from Delta into the cache (another process may have changed
        it); raises UnknownSession or SessionErased."""
        if not is_valid_id(session_id or ""):
            raise UnknownSession(session_id)
        if erased_sessions.is_erased(self.settings, session_id):
            self.evict(session_id)
            raise SessionErased(f"session {session_id} was erased")
        session = self._read_row(session_id)
        with self._lock:
            self._cache(session)
        return session

    def _read_row(self, session_id: str) -> ExamSession:
        dt_table = lake.open_table(self.settings, schemas.EXAM_SESSIONS.name)
        if dt_table is None:
            raise UnknownSession(session_id)
        rows = (
            dt_table.to_pyarrow_dataset()
            .to_table(filter=pc.field("session_id").cast(pa.string()) == session_id)
            .to_pylist()
        )
        if not rows:
            raise UnknownSession(session_id)
        return _session_from_row(rows[0])

    def load_open_sessions(self) -> int:
        """Warm the cache with every open session in Delta (after an API restart)."""
        table = lake.read_table(self.settings, schemas.EXAM_SESSIONS.name)
        table = table.filter(
            pc.is_in(table["status"], value_set=pa.array(OPEN_STATUSES, pa.string()))
        )
        now = time.monotonic()
        with self._lock:
            for row in table.to_pylist():
                self._sessions[row["session_id"]] = _session_from_row(row)
                self._last_activity[row["session_id"]] = now
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
        if tier not in list(Tier):
            raise ValueError(f"tier must be one of {[t.value for t in Tier]}, not {tier!r}")
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
        self._publish(session, SessionEventType.CREATED)
        return session

    def get(self, session_id: str) -> ExamSession:
        """The session; raises SessionErased once it is erased (by any process: the marker is
        checked on every call, so a cached session never outlives its erasure)."""
        if not is_valid_id(session_id or ""):
            raise UnknownSession(session_id)
        if erased_sessions.is_erased(self.settings, session_id):
            self.evict(session_id)
            raise SessionErased(f"session {session_id} was erased")
        with self._lock:
            cached = self._sessions.get(session_id)
        if cached is not None:
            return cached
        session = self._read_row(session_id)
        with self._lock:
            if session_id not in self._sessions:
                self._cache(session)
            return self._sessions[session_id]

    def evict(self, session_id: str) -> None:
        """Forget the cached session (after its erasure)."""
        with self._lock:
            self._sessions.pop(session_id, None)

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
        with self._transition(session_id) as session:
            if not session.is_open:
                raise SessionClosed(f"session {session_id} is {session.status}")
            if session.started_at is not None:
                return session
            session = replace(session, status="active", started_at=started_at)
            self._write(session)
        self._publish(session, SessionEventType.STARTED)
        return session

    def end(self, session_id: str, status: str = "ended") -> ExamSession:
        """End the session (idempotent: an ended session stays as it ended)."""
        if status not in ("ended", "terminated"):
            raise ValueError(f"cannot end a session with status {status!r}")
        with self._transition(session_id) as session:
            if not session.is_open:
                return session
            session = replace(session, status=status, ended_at=dt.datetime.now(dt.UTC))
            self._write(session)
        revoke_session_tokens(self.settings, session_id, status)
        self._publish(session, SessionEventType.ENDED)
        self._mark_end_of_frames(session)
        return session

    def touch(self, session_id: str) -> None:
        """Note an upload: an open session that hears nothing for long expires. The shared
        stamp tells the other API processes (at most every ``ACTIVITY_STAMP_EVERY_S``)."""
        now = time.monotonic()
        with self._lock:
            if session_id not in self._last_activity:
                return
            self._last_activity[session_id] = now
            every_s = min(ACTIVITY_STAMP_EVERY_S, self.settings.session_idle_timeout_s / 4)
            if now - self._stamped.get(session_id, -1e9) < every_s:
                return
            self._stamped[session_id] = now
        stamp = activity_stamp_path(self.settings, session_id)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def _active_elsewhere(self, session_id: str, now: float) -> bool:
        """True when another process stamped the session within the idle timeout; this
        process's clock of it then moves up to that stamp."""
        try:
            age = time.time() - activity_stamp_path(self.settings, session_id).stat().st_mtime
        except OSError:
            return False
        if age > self.settings.session_idle_timeout_s:
            return False
        with self._lock:
            if session_id in self._last_activity:
                self._last_activity[session_id] = now - max(0.0, age)
        return True

    def sweep(self, now: float | None = None) -> tuple[list[str], list[str]]:
        """Expire idle or overlong open sessions and forget ended ones past their grace;
        returns (expired, evicted) session ids."""
        now = time.monotonic() if now is None else now
        wall = dt.datetime.now(dt.UTC)
        settings = self.settings
        with self._lock:
            expired = [
                s.session_id
                for s in self._sessions.values()
                if s.is_open
                and (
                    now - self._last_activity.get(s.session_id, now)
                    > settings.session_idle_timeout_s
                    or (wall - (s.started_at or s.created_at)).total_seconds()
                    > settings.session_max_duration_s
                )
            ]
        expired = [sid for sid in expired if not self._active_elsewhere(sid, now)]
        for session_id in expired:
            self.end(session_id, status="ended")
        with self._lock:
            closed = list(self._closed_since.items())
            overflow = max(0, len(closed) - settings.session_cache_cap)
            evicted = [
                sid
                for index, (sid, since) in enumerate(closed)
                if index < overflow or now - since > settings.ended_session_grace_s
            ]
            for session_id in evicted:
                self._sessions.pop(session_id, None)
                self._closed_since.pop(session_id, None)
                self._stamped.pop(session_id, None)
        for session_id in evicted:
            for listener in self.on_evict:
                listener(session_id)
        return expired, evicted

    def cached_ids(self) -> set[str]:
        with self._lock:
            return set(self._sessions)

    def record_gap(self, session: ExamSession, from_ms: int, to_ms: int) -> None:
        self._publish(session, SessionEventType.GAP, gap_from_ms=from_ms, gap_to_ms=to_ms)

    def require_open(self, session_id: str) -> ExamSession:
        session = self.get(session_id)
        if not session.is_open:
            raise SessionClosed(f"session {session_id} is {session.status}")
        return session

    def _write(self, session: ExamSession) -> None:
        """Commit the session's row, then cache it (a failed commit changes nothing; an erased
        session's row is never committed)."""
        self._rows.write(session.row())
        if erased_sessions.is_erased(self.settings, session.session_id):
            self.evict(session.session_id)
            raise SessionErased(f"session {session.session_id} was erased")
        with self._lock:
            self._cache(session)

    def _cache(self, session: ExamSession) -> None:
        """Cache under ``_lock``: open sessions by activity, closed ones by when they closed."""
        self._sessions[session.session_id] = session
        if session.is_open:
            self._last_activity.setdefault(session.session_id, time.monotonic())
        else:
            self._last_activity.pop(session.session_id, None)
            self._closed_since.setdefault(session.session_id, time.monotonic())

    def _mark_end_of_frames(self, session: ExamSession) -> None:
        """An empty record after the last frame, on each frames topic's partition of the
        session: the webcam and screen workers close its open incidents when they reach it."""
        ended_ms = int(session.ended_at.timestamp() * 1000)
        sent = [
            sealed_topics.publish_frame(
                self.settings,
                self.producer,
                FrameMessage(
                    session_id=session.session_id,
                    institution_id=session.institution_id,
                    track=track,
                    captured_at_ms=ended_ms,
                    started_at_ms=session.started_at_ms or ended_ms,
                    end_of_session=True,
                ),
                b"",
            )
            for track in Track
        ]
        for future in sent:
            future.get(timeout=15)

    def _publish(self, session: ExamSession, event_type: SessionEventType, **extra: int) -> None:
        event = SessionEventMessage(
            event=event_type,
            session_id=session.session_id,
            institution_id=session.institution_id,
            student_id=session.student_id,
            exam_id=session.exam_id,
            tier=session.tier,
            status=session.status,
            at=dt.datetime.now(dt.UTC),
            **extra,
        )
        sealed_topics.publish(self.settings, self.producer, event).get(timeout=15)
