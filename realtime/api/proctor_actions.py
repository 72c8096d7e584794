"""Proctor actions: audited in Delta first, then delivered to the exam client over Kafka.

The audit row is written before the action takes effect, so there is never an action in the
exam without its ``proctor_actions`` row (who, what, when). Automatic actions taken by policy
carry the proctor id ``policy:auto`` and a deterministic action id, so a replayed incident
cannot end a session twice or write a second row.
"""

from __future__ import annotations

import datetime as dt
import uuid

from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import ProctorActionType
from proctorlake.services.proctor_audit import audit_action
from realtime.api.session_registry import ExamSession, SessionRegistry

AUTO_PROCTOR_ID = "policy:auto"
MAX_MESSAGE_CHARS = 2000


class ProctorActions:
    def __init__(self, settings: Settings, producer, registry: SessionRegistry) -> None:
        self.settings = settings
        self.producer = producer
        self.registry = registry

    def send_message(self, session: ExamSession, proctor_id: str, message: str) -> dict:
        text = message.strip()
        if not text or len(text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"a message needs 1 to {MAX_MESSAGE_CHARS} characters")
        self.registry.require_open(session.session_id)
        return self._record(session, proctor_id, ProctorActionType.MESSAGE, text)

    def end_session(
        self,
        session: ExamSession,
        proctor_id: str,
        reason: str | None = None,
        action_id: str | None = None,
    ) -> dict:
        """End the session for its student; idempotent for a deterministic ``action_id``."""
        self.registry.require_open(session.session_id)
        action = self._record(session, proctor_id, ProctorActionType.END_SESSION, reason, action_id)
        self.registry.end(session.session_id, status="terminated")
        return action

    def _record(
        self,
        session: ExamSession,
        proctor_id: str,
        action_type: ProctorActionType,
        message: str | None,
        action_id: str | None = None,
    ) -> dict:
        return audit_action(
            self.settings,
            self.producer,
            action_id=action_id or f"a-{uuid.uuid4().hex}",
            session_id=session.session_id,
            institution_id=session.institution_id,
            proctor_id=proctor_id,
            action_type=action_type,
            message=message,
            created_at=dt.datetime.now(dt.UTC),
        )
