"""The review queue: sessions ranked by what still waits for a human, with the reasons.

A session's score is the sum of its unreviewed incidents' ``SEVERITY_WEIGHT`` times their
confidence (the session report's risk score, counting only what nobody has decided yet), so a
reviewer can check it by hand from the reasons listed beside it. The score only orders the
queue: it never confirms, dismisses or acts on a session; reviewers' decisions do, and they
leave the queue and feed the false-flag figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from proctorlake.core.vocabulary import SEVERITY_WEIGHT, Severity


@dataclass(frozen=True)
class QueueEntry:
    session_id: str
    score: float
    pending: int
    reasons: str


def _seconds(incident: Mapping) -> str:
    return f"{max(0.0, float(incident['end_s']) - float(incident['start_s'])):.0f} s"


def explain(incidents: Sequence[Mapping]) -> str:
    """Unreviewed incidents by severity, highest first, each with its length:
    ``2 high: multiple_faces 14 s, unauthorized_app 40 s; 1 medium: gaze_away 9 s``."""
    by_severity: dict[str, list[Mapping]] = defaultdict(list)
    for incident in incidents:
        by_severity[incident["severity"]].append(incident)
    parts = []
    for severity in sorted(by_severity, key=Severity.rank_of, reverse=True):
        group = sorted(
            by_severity[severity], key=lambda i: (float(i["start_s"]), i["incident_type"])
        )
        listed = ", ".join(f"{i['incident_type']} {_seconds(i)}" for i in group)
        parts.append(f"{len(group)} {severity}: {listed}")
    return "; ".join(parts)


def session_score(incidents: Iterable[Mapping]) -> float:
    """Severity weight x confidence, summed over the unreviewed incidents."""
    return round(
        sum(
            SEVERITY_WEIGHT.get(i["severity"], 0.0) * float(i["confidence"])
            for i in incidents
            if not i.get("resolution")
        ),
        1,
    )


def rank_sessions(incidents: Iterable[Mapping]) -> list[QueueEntry]:
    """Sessions with unreviewed incidents, highest score first (ties: more pending, then id)."""
    pending: dict[str, list[Mapping]] = defaultdict(list)
    for incident in incidents:
        if not incident.get("resolution"):
            pending[incident["session_id"]].append(incident)
    entries = [
        QueueEntry(session_id, session_score(rows), len(rows), explain(rows))
        for session_id, rows in pending.items()
    ]
    return sorted(entries, key=lambda e: (-e.score, -e.pending, e.session_id))
