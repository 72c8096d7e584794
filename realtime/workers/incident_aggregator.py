"""Incident aggregator: per-session observations in, incident messages (opened/updated/closed) out.

The temporal rules are the shared ones (``models.temporal_rules.SessionRules``, the same the
batch path runs); this module keeps one rules object per session, throttles the ``updated``
events an open incident produces every second, and flags stream gaps by the one rule in
:mod:`proctorlake.core.stream_gaps`. It publishes facts only: whether an incident alerts a
proctor or acts on the session is the API's decision, from the exam's policy.

Incident ids are deterministic (session, type, start second), and a frame at or before the
session's last processed second is ignored, so replaying a batch after a crash neither loses
nor duplicates an incident. The state pickles, so the worker checkpoints it beside its
committed offsets.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from models.integrity_rules import IntegrityObservation, IntegrityRules
from models.screen_apps import ScreenObservation
from models.takeover import TakeoverReference
from models.temporal_rules import Flag, SessionRules, incident_id
from models.webcam import WebcamObservation
from proctorlake.core.messages import IncidentMessage
from proctorlake.core.policy import IntegrityThresholds
from proctorlake.core.stream_gaps import is_stream_gap
from proctorlake.core.vocabulary import IncidentState, IncidentType, Severity

UPDATE_EVERY_S = 5.0
"""An open incident is re-published at most this often while it grows."""


@dataclass(frozen=True)
class SessionMeta:
    """What the aggregator needs to know about a session (from the frame's headers)."""

    session_id: str
    institution_id: str


@dataclass
class SessionTrack:
    rules: SessionRules
    last_ts: float = -1.0
    published: dict[str, IncidentMessage] = field(default_factory=dict)  # open id -> last sent
    integrity: IntegrityRules | None = None  # the exam page's events (the integrity worker)


class IncidentAggregator:
    """Stateful per session; ``observe`` returns the incident events to publish."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionTrack] = {}

    def dumps(self) -> bytes:
        return pickle.dumps(self.sessions, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def loads(cls, data: bytes) -> IncidentAggregator:
        aggregator = cls()
        aggregator.sessions = pickle.loads(data)  # written by this worker group only
        return aggregator

    def observe(
        self,
        meta: SessionMeta,
        observation: WebcamObservation,
        captured_at_ms: int,
        now_ms: int,
    ) -> list[IncidentMessage]:
        track = self._track(meta)
        ts = observation.frame_ts
        if ts <= track.last_ts:
            return []  # already processed: a replay after a restart
        events: list[IncidentMessage] = []
        if track.last_ts >= 0 and is_stream_gap(track.last_ts, ts):
            gap = Flag(IncidentType.STREAM_GAP, track.last_ts, ts, 1.0, Severity.LOW, ())
            gap_id = incident_id(meta.session_id, IncidentType.STREAM_GAP, track.last_ts)
            events.append(
                self._event(meta, gap_id, gap, IncidentState.CLOSED, captured_at_ms, now_ms)
            )
        track.last_ts = ts
        rule_events = track.rules.feed_webcam(observation)
        return events + self._publishable_all(meta, track, rule_events, captured_at_ms, now_ms)

    def observe_screen(
        self,
        meta: SessionMeta,
        observation: ScreenObservation,
        captured_at_ms: int,
        now_ms: int,
    ) -> list[IncidentMessage]:
        """A screen frame's window titles (every 10 s) through the same rules and ids."""
        track = self._track(meta)
        if observation.frame_ts <= track.last_ts:
            return []  # already processed: a replay after a restart
        track.last_ts = observation.frame_ts
        rule_events = track.rules.feed_screen(observation)
        return self._publishable_all(meta, track, rule_events, captured_at_ms, now_ms)

    def observe_integrity(
        self,
        meta: SessionMeta,
        observation: IntegrityObservation,
        thresholds: IntegrityThresholds,
        occurred_at_ms: int,
        now_ms: int,
    ) -> list[IncidentMessage]:
        """An exam page's integrity event through ``models.integrity_rules`` (the exam's own
        thresholds, stamped on the event by the API). A replayed event gives the same ids."""
        track = self._track(meta)
        if track.integrity is None:
            track.integrity = IntegrityRules(meta.session_id)
        rule_events = track.integrity.feed(observation, thresholds)
        return self._publishable_all(meta, track, rule_events, occurred_at_ms, now_ms)

    def finish(self, meta: SessionMeta, captured_at_ms: int, now_ms: int) -> list[IncidentMessage]:
        """The session ended: close its open incidents and forget it."""
        track = self.sessions.pop(meta.session_id, None)
        if track is None:
            return []
        rule_events = track.rules.finish()
        if track.integrity is not None:
            rule_events += track.integrity.finish()
        return self._publishable_all(meta, track, rule_events, captured_at_ms, now_ms)

    def start(self, meta: SessionMeta, reference: TakeoverReference | None) -> None:
        """Begin a session's rules with its verified face as the takeover reference (None:
        the rules learn its first minute); a session already tracked keeps its state."""
        if meta.session_id not in self.sessions:
            self.sessions[meta.session_id] = SessionTrack(
                SessionRules(meta.session_id, reference=reference)
            )

    def _track(self, meta: SessionMeta) -> SessionTrack:
        track = self.sessions.get(meta.session_id)
        if track is None:
            track = self.sessions[meta.session_id] = SessionTrack(SessionRules(meta.session_id))
        return track

    def _publishable_all(
        self, meta: SessionMeta, track: SessionTrack, rule_events, captured_at_ms: int, now_ms: int
    ) -> list[IncidentMessage]:
        """The rule events worth publishing (throttled updates are dropped)."""
        events = (self._publishable(meta, track, e, captured_at_ms, now_ms) for e in rule_events)
        return [event for event in events if event is not None]

    def _publishable(
        self, meta: SessionMeta, track: SessionTrack, rule_event, captured_at_ms: int, now_ms: int
    ) -> IncidentMessage | None:
        flag = rule_event.flag
        previous = track.published.get(rule_event.incident_id)
        if rule_event.kind == IncidentState.UPDATED and previous is not None:
            grew = flag.end_s - previous.end_s >= UPDATE_EVERY_S
            if not grew and flag.severity == previous.severity:
                return None
        event = self._event(
            meta, rule_event.incident_id, flag, rule_event.kind, captured_at_ms, now_ms
        )
        if rule_event.kind == IncidentState.CLOSED:
            track.published.pop(rule_event.incident_id, None)
        else:
            track.published[rule_event.incident_id] = event
        return event

    @staticmethod
    def _event(
        meta: SessionMeta,
        incident: str,
        flag: Flag,
        state: IncidentState,
        captured_at_ms: int,
        now_ms: int,
    ) -> IncidentMessage:
        return IncidentMessage(
            incident_id=incident,
            session_id=meta.session_id,
            institution_id=meta.institution_id,
            incident_type=flag.type,
            severity=flag.severity,
            confidence=round(float(flag.confidence), 4),
            start_s=round(float(flag.start_s), 3),
            end_s=round(float(flag.end_s), 3),
            state=state,
            trigger_captured_at_ms=captured_at_ms,
            event_at_ms=now_ms,
        )
