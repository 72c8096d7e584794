"""``DELETE /sessions/{session_id}/data``: GDPR erasure of one session, answered with its
signed certificate. Only an admin of the session's institution may ask."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from proctorlake.governance.erasure.ids import (
    ErasureError,
    MalformedId,
    SessionNotOfStudent,
    SessionUnderLegalHold,
)
from proctorlake.governance.erasure.runner import erase_session
from proctorlake.storage import lake
from realtime.api.deps import Claims, Services
from realtime.api.problems import Forbidden

router = APIRouter(prefix="/sessions", tags=["erasure"])


def _institution_of(services, session_id: str) -> str | None:
    rows = (
        lake.duckdb_connection(services.settings)
        .execute("select institution_id from exam_sessions where session_id = ?", [session_id])
        .fetchall()
    )
    return rows[0][0] if rows else None


@router.delete("/{session_id}/data")
async def erase_session_data(session_id: str, claims: Claims, services: Services) -> dict:
    """Erase every byte of the session (Delta incl. old versions, objects, topic keys,
    caches); returns the Ed25519-signed certificate. Repeating it is a signed no-op."""
    if claims.role != "admin":
        raise Forbidden("only an admin of the institution can erase exam data")
    try:
        institution = await run_in_threadpool(_institution_of, services, session_id)
    except Exception as exc:  # a malformed id never reaches a query plan
        raise HTTPException(400, f"cannot look up session {session_id!r}: {exc}") from exc
    if institution is not None and institution != claims.institution_id:
        raise Forbidden("this session belongs to another institution")
    try:
        certificate = await run_in_threadpool(erase_session, services.settings, session_id)
    except MalformedId as exc:
        raise HTTPException(400, str(exc)) from exc
    except (SessionNotOfStudent, SessionUnderLegalHold) as exc:
        raise HTTPException(409, str(exc)) from exc
    except ErasureError as exc:
        raise HTTPException(404, str(exc)) from exc
    return certificate.to_json()
