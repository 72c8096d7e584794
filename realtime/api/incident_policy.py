"""The API's one decision point for incidents: the workers publish facts, this applies the
exam's policy to them.

For each incident (live from the topic, or read back from ``stream_incidents``) it decides
whether the student's accommodation suppresses it (``suppressed_by``, the rule the batch
applies too: a suppressed incident is counted, never alerts and never acts), whether a live
proctor is alerted (the session's tier has a human and the severity reaches the policy's
threshold) and whether the policy acts on its own (an incident type the policy names extreme
ends the session when it opens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proctorlake.core.accommodations import (
    NO_ACCOMMODATION,
    Accommodation,
    BreakWindow,
    suppression_reason,
)
from proctorlake.core.messages import IncidentMessage
from proctorlake.core.vocabulary import HUMAN_PROCTORED_TIERS, AutomaticAction, IncidentState
from realtime.api.session_allowances import SessionAllowances
from realtime.api.session_registry import ExamSession, SessionRegistry

INCIDENT_VIEW_FIELDS = (
    "incident_id",
    "session_id",
    "institution_id",
    "incident_type",
    "severity",
    "confidence",
    "start_s",
    "end_s",
    "state",
    # When the frame that caused this state was captured: live events carry it (the alert's
    # latency, bench/realtime_latency.py); an incident read back from Delta has none.
    "trigger_captured_at_ms",
)


def incident_view(
    session: ExamSession,
    incident: Mapping,
    accommodation: Accommodation = NO_ACCOMMODATION,
    breaks: Sequence[BreakWindow] = (),
) -> dict:
    """An incident as the proctor page and the live stream see it, with the policy's verdict."""
    view = {name: incident.get(name) for name in INCIDENT_VIEW_FIELDS}
    view["review_status"] = incident.get("review_status", "pending")
    view["tier"] = session.tier
    reason = suppression_reason(
        view["incident_type"], view["start_s"], view["end_s"], accommodation, breaks
    )
    view["suppressed_by"] = None if reason is None else reason.value
    raised = reason is None
    view["alert"] = (
        raised and session.tier in HUMAN_PROCTORED_TIERS and session.policy.alerts(view["severity"])
    )
    ends = raised and session.policy.ends_session_on(view["incident_type"])
    view["auto_action"] = AutomaticAction.END_SESSION.value if ends else None
    return view


def takes_automatic_action(view: Mapping) -> bool:
    """Act once, when the incident opens (updates and replays of it never act again)."""
    return view.get("auto_action") is not None and view.get("state") == IncidentState.OPENED


class IncidentPolicy:
    """Looks up each incident's session and applies its policy (one instance per process)."""

    def __init__(self, registry: SessionRegistry, allowances: SessionAllowances) -> None:
        self.registry = registry
        self.allowances = allowances

    def view(self, incident: IncidentMessage | Mapping) -> dict:
        fields = (
            incident.model_dump(mode="json") if isinstance(incident, IncidentMessage) else incident
        )
        session = self.registry.get(fields["session_id"])
        accommodation, breaks = self.allowances.timeline(session)
        return incident_view(session, fields, accommodation, breaks)
