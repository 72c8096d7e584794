"""Incident aggregator: per-session observations in, incident events (opened/updated/closed) out.

The temporal rules live in ``models`` and are shared with the batch path; this module only
runs them incrementally. Each session keeps a short window of per-second observations
(extended back to the start of any incident still open), the rules are re-applied to that
window when a frame arrives, and the result is compared with what was already published.
Incident ids come from ``models`` (session, type, start second), so reprocessing a frame
after a crash reproduces the same ids, never new ones. A frame at or before the session's
last processed second is ignored, which makes replays after a restart harmless.

The whole state is plain JSON, checkpointed by the worker before it commits its offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from proctorlake.topics import IncidentEvent
from realtime.live_feed import severity_rank

WINDOW_S = 30.0
"""Observation history kept beyond open incidents: longer than any rule's persistence."""
GAP_S = 5.0
"""No webcam frame for this long is a stream gap (network drop), flagged for auditors."""
UPDATE_EVERY_S = 5.0
"""An open incident is re-published at most this often while it grows."""
STREAM_GAP = "stream_gap"


@dataclass
class SessionMeta:
    """What the aggregator needs to know about a session (from the frame's headers)."""

    session_id: str
    institution_id: str
    tier: str
    alert_min_severity: str = "medium"
    extreme_incident_types: tuple[str, ...] = ()


@dataclass
class SessionState:
    last_ts: float = -1.0
    observations: list[dict] = field(default_factory=list)
    published: dict[str, dict] = field(default_factory=dict)  # incident id -> last event

    def to_json(self) -> dict:
        return {
            "last_ts": self.last_ts,
            "observations": self.observations,
            "published": self.published,
        }

    @classmethod
    def from_json(cls, data: dict) -> SessionState:
        return cls(data["last_ts"], list(data["observations"]), dict(data["published"]))


FlagsFn = Callable[[list[dict]], list[dict]]
IncidentIdFn = Callable[[str, str, float], str]


class IncidentAggregator:
    """Stateful per session; ``observe`` returns the incident events to publish."""

    def __init__(self, flags_for: FlagsFn, incident_id: IncidentIdFn) -> None:
        self.flags_for = flags_for
        self.incident_id = incident_id
        self.sessions: dict[str, SessionState] = {}

    def observe(
        self, meta: SessionMeta, observation: dict, captured_at_ms: int, now_ms: int
    ) -> list[dict]:
        """Add one frame's observation (``observation['ts']`` in session seconds)."""
        state = self.sessions.setdefault(meta.session_id, SessionState())
        ts = float(observation["ts"])
        if ts <= state.last_ts:
            return []  # already processed (a replay after restart)
        events: list[dict] = []
        if state.last_ts >= 0 and ts - state.last_ts > GAP_S:
            gap = {
                "type": STREAM_GAP,
                "start_s": state.last_ts,
                "end_s": ts,
                "confidence": 1.0,
                "severity": "low",
            }
            events.append(self._event(meta, gap, IncidentEvent.CLOSED, captured_at_ms, now_ms))
            state.published[events[-1]["incident_id"]] = events[-1]
            state.observations = []  # rules never bridge a network drop
        state.last_ts = ts
        state.observations.append(observation)
        flags = self.flags_for(state.observations)
        seen: set[str] = set()
        for flag in flags:
            incident_id = self.incident_id(meta.session_id, flag["type"], flag["start_s"])
            seen.add(incident_id)
            is_open = flag["end_s"] >= ts - 1e-6
            previous = state.published.get(incident_id)
            kind = self._transition(previous, flag, is_open)
            if kind is None:
                continue
            event = self._event(meta, flag, kind, captured_at_ms, now_ms, incident_id)
            state.published[incident_id] = event
            events.append(event)
        for incident_id, previous in list(state.published.items()):
            if previous["state"] != IncidentEvent.CLOSED and incident_id not in seen:
                closed = {**previous, "state": IncidentEvent.CLOSED, "event_at_ms": now_ms}
                state.published[incident_id] = closed
                events.append(closed)
        self._trim(state, ts, flags)
        return events

    def _transition(self, previous: dict | None, flag: dict, is_open: bool) -> str | None:
        if previous is None:
            return IncidentEvent.OPENED if is_open else IncidentEvent.CLOSED
        if previous["state"] == IncidentEvent.CLOSED:
            return None
        if not is_open:
            return IncidentEvent.CLOSED
        grew = flag["end_s"] - previous["end_s"] >= UPDATE_EVERY_S
        if grew or flag["severity"] != previous["severity"]:
            return IncidentEvent.UPDATED
        return None

    def _event(
        self,
        meta: SessionMeta,
        flag: dict,
        kind: str,
        captured_at_ms: int,
        now_ms: int,
        incident_id: str | None = None,
    ) -> dict:
        incident_type = flag["type"]
        auto = "end_session" if incident_type in meta.extreme_incident_types else None
        return {
            "incident_id": incident_id
            or self.incident_id(meta.session_id, incident_type, flag["start_s"]),
            "session_id": meta.session_id,
            "institution_id": meta.institution_id,
            "tier": meta.tier,
            "incident_type": incident_type,
            "severity": flag["severity"],
            "confidence": float(flag["confidence"]),
            "start_s": float(flag["start_s"]),
            "end_s": float(flag["end_s"]),
            "state": kind,
            "alert": severity_rank(flag["severity"]) >= severity_rank(meta.alert_min_severity),
            "auto_action": auto,
            "review_status": "pending",
            "trigger_captured_at_ms": captured_at_ms,
            "event_at_ms": now_ms,
        }

    def _trim(self, state: SessionState, ts: float, flags: list[dict]) -> None:
        """Forget observations no rule can still need, and incidents long closed.

        The cut never falls inside a flag, so re-applying the rules to the shorter window
        cannot produce a truncated copy of an incident under a new id.
        """
        keep_from = ts - WINDOW_S
        for flag in sorted(flags, key=lambda f: f["start_s"]):
            if flag["start_s"] < keep_from <= flag["end_s"] + GAP_S:
                keep_from = flag["start_s"]
        state.observations = [o for o in state.observations if o["ts"] >= keep_from]
        state.published = {
            k: e
            for k, e in state.published.items()
            if e["state"] != IncidentEvent.CLOSED or e["end_s"] >= ts - 2 * WINDOW_S
        }
