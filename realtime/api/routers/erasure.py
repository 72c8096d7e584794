"""``DELETE /sessions/{session_id}/data``: GDPR erasure of one session, answered with its
signed certificate. Only an admin of the session's institution may ask."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from kafka.errors import KafkaError

from proctorlake.governance.erased_sessions import SessionErased, is_erased
from proctorlake.governance.erasure.certificate import Certificate
from proctorlake.governance.erasure.ids import (
    ErasureError,
    MalformedId,
    SessionNotOfStudent,
    SessionUnderLegalHold,
)
from proctorlake.governance.erasure.runner import check_erasable, erase_session
from realtime.api.deps import Claims, Services
from realtime.api.problems import Forbidden
from realtime.api.session_registry import SessionClosed, UnknownSession
from realtime.api.state import RealtimeServices

router = APIRouter(prefix="/sessions", tags=["erasure"])
log = logging.getLogger(__name__)


def _end_before_erasure(services: RealtimeServices, session_id: str) -> None:
    """End a session that is still open, so its exam client, proctors and workers hear of the
    end. Best effort: the erasure's marker refuses the session's requests either way."""
    try:
        services.registry.end(session_id, status="terminated")
    except (UnknownSession, SessionClosed, SessionErased):
        pass  # nothing open to end
    except KafkaError as exc:
        log.warning("session end before erasure not published: %s", type(exc).__name__)


def _forget(services: RealtimeServices, session_id: str) -> None:
    """Drop every in-memory trace of the session in this process (the others check the
    erased marker on every request and drop theirs when they see it)."""
    services.registry.evict(session_id)
    services.intake.forget(session_id)
    services.feed.forget_erased(session_id)


def _erase(services: RealtimeServices, session_id: str, institution_id: str) -> Certificate:
    check_erasable(services.settings, session_id, institution_id)
    _end_before_erasure(services, session_id)
    try:
        return erase_session(services.settings, session_id, institution_id)
    finally:
        if is_erased(services.settings, session_id):  # sealed off, even if a step failed
            _forget(services, session_id)


@router.delete("/{session_id}/data")
async def erase_session_data(session_id: str, claims: Claims, services: Services) -> dict:
    """End the session if it is open, then erase every byte of it (Delta incl. old versions,
    objects, topic keys, caches, worker state); returns the Ed25519-signed certificate. From
    then on every request for the session is refused (410). Repeating it is a signed no-op.
    A session that is not one of the admin's institution is not found (404)."""
    if claims.role != "admin":
        raise Forbidden("only an admin of the institution can erase exam data")
    try:
        certificate = await run_in_threadpool(_erase, services, session_id, claims.institution_id)
    except MalformedId as exc:
        raise HTTPException(400, str(exc)) from exc
    except (SessionNotOfStudent, SessionUnderLegalHold) as exc:
        raise HTTPException(409, str(exc)) from exc
    except ErasureError as exc:
        raise HTTPException(404, str(exc)) from exc
    return certificate.to_json()
