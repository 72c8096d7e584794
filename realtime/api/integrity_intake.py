"""Integrity intake: the exam page's browser events, checked and published to ``integrity``.

Facts only (what happened and when on the client's clock; never what was pasted). Each event
carries the session's integrity thresholds from its exam policy, so the integrity worker
applies the exam's own. Times pass the same clock bounds as frame capture times.
"""

from __future__ import annotations

import uuid

from proctorlake.core.messages import IntegrityEventMessage
from proctorlake.core.settings import Settings
from proctorlake.governance import sealed_topics
from realtime.api.client_clock import capture_time_ms
from realtime.api.errors import ApiProblem
from realtime.api.payloads import IntegrityEventIn
from realtime.api.session_registry import ExamSession


def publish_integrity_events(
    settings: Settings, producer, session: ExamSession, events: list[IntegrityEventIn], now_ms: int
) -> int:
    """Publish the events in the order given (the rules read them in that order); returns
    how many were published (none for tier ``none``, which has no automated proctoring)."""
    started_ms = session.started_at_ms
    if started_ms is None:
        raise ApiProblem("the session has not started: start it before reporting events", 409)
    messages = [
        IntegrityEventMessage(
            session_id=session.session_id,
            event_id=str(uuid.uuid4()),
            institution_id=session.institution_id,
            kind=event.kind,
            phase=event.phase,
            occurred_at_ms=(at := capture_time_ms(event.occurred_at_ms, session, now_ms)),
            session_ts=round(max(0, at - started_ms) / 1000.0, 3),
            width=event.width,
            height=event.height,
            thresholds=session.policy.integrity,
        )
        for event in events
    ]
    if session.tier == "none":
        return 0
    futures = [sealed_topics.publish(settings, producer, m) for m in messages]
    for future in futures:
        future.get(timeout=15)
    return len(messages)
