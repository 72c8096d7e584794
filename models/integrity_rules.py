"""Integrity rules: the exam page's browser events become incidents.

Spans (tab hidden or window unfocused, out of fullscreen, window below the size floor) become
an incident once they last the exam policy's threshold; the page re-sends a ``still`` event
every few seconds while a span lasts, so a student who never comes back is flagged too.
One-off events (paste, copy or cut, PrintScreen, a second display) are an incident each.
Hidden and unfocused are one span (``left_exam_window``): switching tabs does both.

Per-session state is small and pickles, like :class:`models.temporal_rules.SessionRules`;
events arrive in the order the page sent them (one session stays on one partition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.temporal_rules import Flag, RuleEvent, incident_id
from proctorlake.core.policy import IntegrityThresholds
from proctorlake.core.vocabulary import (
    IncidentState,
    IncidentType,
    IntegrityEventType,
    IntegrityPhase,
    Severity,
)


@dataclass(frozen=True)
class IntegrityObservation:
    """One browser fact on the session's clock (seconds since it started)."""

    kind: IntegrityEventType
    phase: IntegrityPhase
    ts: float
    width: int | None = None
    height: int | None = None


INSTANT_INCIDENTS: dict[IntegrityEventType, tuple[IncidentType, Severity]] = {
    IntegrityEventType.PASTE: (IncidentType.PASTE_DETECTED, Severity.MEDIUM),
    IntegrityEventType.COPY: (IncidentType.COPY_DETECTED, Severity.LOW),
    IntegrityEventType.CUT: (IncidentType.COPY_DETECTED, Severity.LOW),
    IntegrityEventType.PRINT_SCREEN: (IncidentType.SCREENSHOT_KEY, Severity.MEDIUM),
    IntegrityEventType.SECOND_DISPLAY: (IncidentType.SECOND_DISPLAY, Severity.MEDIUM),
}
"""Pasting brings outside text in and a screenshot takes the exam out (medium: a proctor
hears of it); copying text out of the page is low; a second display is medium because
``screen.isExtended`` also reports a docked laptop whose lid is closed."""

SPAN_OF: dict[IntegrityEventType, IncidentType] = {
    IntegrityEventType.PAGE_HIDDEN: IncidentType.LEFT_EXAM_WINDOW,
    IntegrityEventType.WINDOW_BLURRED: IncidentType.LEFT_EXAM_WINDOW,
    IntegrityEventType.FULLSCREEN_EXITED: IncidentType.FULLSCREEN_EXITED,
    IntegrityEventType.WINDOW_SIZE: IncidentType.WINDOW_TOO_SMALL,
}

DEFAULT_THRESHOLDS = IntegrityThresholds()
LEFT_WINDOW_HIGH_AFTER_S = 30.0
"""Away this long is high severity: long enough to look something up."""


def span_severity(incident_type: IncidentType, duration_s: float) -> Severity:
    if incident_type == IncidentType.LEFT_EXAM_WINDOW:
        return Severity.HIGH if duration_s >= LEFT_WINDOW_HIGH_AFTER_S else Severity.MEDIUM
    return Severity.LOW


def min_duration_s(incident_type: IncidentType, thresholds: IntegrityThresholds) -> float:
    return {
        IncidentType.LEFT_EXAM_WINDOW: thresholds.left_window_min_s,
        IncidentType.FULLSCREEN_EXITED: thresholds.fullscreen_exit_min_s,
        IncidentType.WINDOW_TOO_SMALL: thresholds.small_window_min_s,
    }[incident_type]


@dataclass
class _Span:
    start_s: float
    sources: set[IntegrityEventType] = field(default_factory=set)
    end_s: float = 0.0
    opened: bool = False


class IntegrityRules:
    """Incremental integrity rules for one session: feed observations, get incident events."""

    def __init__(self, session_id: str = "") -> None:
        self.session_id = session_id
        self._spans: dict[IncidentType, _Span] = {}

    def feed(
        self, obs: IntegrityObservation, thresholds: IntegrityThresholds = DEFAULT_THRESHOLDS
    ) -> list[RuleEvent]:
        if obs.kind in INSTANT_INCIDENTS:
            incident_type, severity = INSTANT_INCIDENTS[obs.kind]
            flag = Flag(incident_type, obs.ts, obs.ts, 1.0, severity, (obs.ts,))
            return [self._event(IncidentState.CLOSED, flag)]
        incident_type = SPAN_OF[obs.kind]
        if obs.kind == IntegrityEventType.WINDOW_SIZE:
            small = (obs.width or 0) < thresholds.min_window_width or (
                obs.height or 0
            ) < thresholds.min_window_height
            phase = IntegrityPhase.START if small else IntegrityPhase.END
        else:
            phase = obs.phase
        span = self._spans.get(incident_type)
        if phase == IntegrityPhase.START or (phase == IntegrityPhase.STILL and span is None):
            if span is None:
                span = self._spans[incident_type] = _Span(obs.ts)
            span.sources.add(obs.kind)
        if span is None:
            return []
        span.end_s = max(span.end_s, obs.ts)
        if phase == IntegrityPhase.END:
            span.sources.discard(obs.kind)
            if not span.sources or obs.kind == IntegrityEventType.WINDOW_SIZE:
                return self._close(incident_type, thresholds)
        return self._grow(incident_type, span, thresholds)

    def finish(self) -> list[RuleEvent]:
        """Close every open span (end of session) at the last time it was seen."""
        events: list[RuleEvent] = []
        for incident_type in list(self._spans):
            events += self._close(incident_type, None)
        return events

    def _grow(
        self, incident_type: IncidentType, span: _Span, thresholds: IntegrityThresholds
    ) -> list[RuleEvent]:
        duration = span.end_s - span.start_s
        if duration < min_duration_s(incident_type, thresholds):
            return []
        kind = IncidentState.UPDATED if span.opened else IncidentState.OPENED
        span.opened = True
        return [self._event(kind, self._flag(incident_type, span))]

    def _close(
        self, incident_type: IncidentType, thresholds: IntegrityThresholds | None
    ) -> list[RuleEvent]:
        span = self._spans.pop(incident_type)
        if not span.opened and thresholds is not None:
            if span.end_s - span.start_s < min_duration_s(incident_type, thresholds):
                return []
        elif not span.opened:
            return []
        return [self._event(IncidentState.CLOSED, self._flag(incident_type, span))]

    @staticmethod
    def _flag(incident_type: IncidentType, span: _Span) -> Flag:
        duration = span.end_s - span.start_s
        severity = span_severity(incident_type, duration)
        return Flag(incident_type, span.start_s, span.end_s, 1.0, severity, ())

    def _event(self, kind: IncidentState, flag: Flag) -> RuleEvent:
        return RuleEvent(kind, incident_id(self.session_id, flag.type, flag.start_s), flag)


def integrity_flags(
    observations: list[IntegrityObservation],
    thresholds: IntegrityThresholds = DEFAULT_THRESHOLDS,
    session_id: str = "",
) -> list[Flag]:
    """Every integrity flag of one session (the batch path), by the same incremental rules the
    integrity worker runs; ``observations`` in the order the page sent them."""
    rules = IntegrityRules(session_id)
    closed: list[Flag] = []
    for obs in observations:
        closed += [e.flag for e in rules.feed(obs, thresholds) if e.kind == IncidentState.CLOSED]
    closed += [e.flag for e in rules.finish()]
    return sorted(closed, key=lambda f: (f.start_s, f.type))
