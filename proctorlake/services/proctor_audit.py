"""The audit trail of proctor actions: a ``proctor_actions`` row first, then the event.

Every action a person (or the policy) takes on a session is written here before it takes
effect, so there is never an action without its row (who, what, when). The API's messages and
session ends and the reviews from the API and the dashboard all go through ``audit_action``.
"""

from __future__ import annotations

import datetime as dt
import threading

from proctorlake.core import schemas
from proctorlake.core.messages import ProctorActionMessage
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions, sealed_topics
from proctorlake.storage import lake

PUBLISH_TIMEOUT_S = 15
"""The caller waits for the broker's acknowledgement: an unacknowledged action is an error."""

_WRITE_LOCK = threading.Lock()
"""delta-rs merges from threads of one process would conflict on the same table version."""


def audit_action(
    settings: Settings,
    producer: object | None,
    *,
    action_id: str,
    session_id: str,
    institution_id: str,
    proctor_id: str,
    action_type: str,
    message: str | None,
    created_at: dt.datetime,
    session_date: str | None = None,
) -> dict:
    """Merge the action's row by ``action_id`` (a replay writes no second row), then publish it
    on ``proctor.actions`` when a producer is given; returns the row.

    ``session_date`` is the partition; it defaults to the action's day, and a review made days
    later passes its incident's, so the row stays beside the rest of the session's."""
    row = {
        "action_id": action_id,
        "session_id": session_id,
        "institution_id": institution_id,
        "proctor_id": proctor_id,
        "action_type": action_type,
        "message": message,
        "created_at": created_at,
        "session_date": session_date or created_at.date().isoformat(),
    }
    with _WRITE_LOCK, erased_sessions.admitted_session(settings, session_id):
        lake.merge_rows(settings, schemas.PROCTOR_ACTIONS, [row], ["action_id"])
    if producer is None:
        return row
    # sealed: a message may name the student; the caller waits for the broker's acknowledgement
    event = ProctorActionMessage(**{k: v for k, v in row.items() if k != "session_date"})
    sealed_topics.publish(settings, producer, event).get(timeout=PUBLISH_TIMEOUT_S)
    return event.model_dump(mode="json")
