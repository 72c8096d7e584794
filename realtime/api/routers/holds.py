"""Legal holds over HTTP: an institution's admin places, lifts and reads a session's hold.

The logic and the audit trail live in ``proctorlake.governance.legal_holds``; this router checks the
caller (an admin token of the session's institution) and maps rejections to problem details.
It needs only the settings on ``app.state``, not the broker-backed realtime services.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from proctorlake.core.settings import Settings
from proctorlake.governance import legal_holds
from realtime.api.auth import AUDIENCE_STAFF, TokenClaims, verify_token
from realtime.api.problems import Forbidden

router = APIRouter(prefix="/sessions", tags=["legal holds"])

Reason = Annotated[str, Field(min_length=1, max_length=legal_holds.MAX_REASON_CHARS)]


class HoldRequest(BaseModel):
    reason: Reason = Field(description="case or incident reference; no personal data")


class HoldEventOut(BaseModel):
    event_id: str
    action: str
    actor: str
    reason: str
    event_at: dt.datetime


class HoldStatus(BaseModel):
    session_id: str
    held: bool
    history: list[HoldEventOut]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def admin_claims(request: Request) -> TokenClaims:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    claims = verify_token(_settings(request), token, AUDIENCE_STAFF)
    if claims.role != "admin":
        raise Forbidden(f"a {claims.role} token cannot manage legal holds; an admin token can")
    return claims


Admin = Annotated[TokenClaims, Depends(admin_claims)]


def _status(settings: Settings, session_id: str) -> HoldStatus:
    history = legal_holds.hold_history(settings, session_id)
    return HoldStatus(
        session_id=session_id,
        held=bool(history) and history[-1].action == legal_holds.PLACED,
        history=[HoldEventOut(**e.to_json()) for e in history],
    )


def _checked_session(settings: Settings, claims: TokenClaims, session_id: str) -> None:
    """404 for an unknown session, 403 for another institution's."""
    try:
        institution_id = legal_holds.session_institution(settings, session_id)
    except legal_holds.HoldSessionUnknown as exc:
        held = legal_holds.current_holds(settings).get(session_id)
        if held is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        institution_id = held.institution_id
    except legal_holds.HoldError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    if institution_id != claims.institution_id:
        raise Forbidden("this session belongs to another institution")


def _change(settings: Settings, claims: TokenClaims, session_id: str, reason: str, place: bool):
    _checked_session(settings, claims, session_id)
    action = legal_holds.place_hold if place else legal_holds.release_hold
    try:
        action(settings, session_id, reason, claims.subject)
    except legal_holds.HoldStateConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except legal_holds.HoldSessionUnknown as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except legal_holds.HoldError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    return _status(settings, session_id)


@router.post("/{session_id}/hold", status_code=status.HTTP_201_CREATED)
async def place_hold(
    session_id: str, body: HoldRequest, claims: Admin, request: Request
) -> HoldStatus:
    """Keep the session out of retention until the hold is lifted (audited)."""
    settings = _settings(request)
    return await run_in_threadpool(_change, settings, claims, session_id, body.reason, True)


@router.delete("/{session_id}/hold")
async def release_hold(
    session_id: str,
    claims: Admin,
    request: Request,
    reason: Annotated[str, Query(min_length=1, max_length=legal_holds.MAX_REASON_CHARS)],
) -> HoldStatus:
    """Lift the hold; retention may purge the session once its period has passed (audited)."""
    settings = _settings(request)
    return await run_in_threadpool(_change, settings, claims, session_id, reason, False)


@router.get("/{session_id}/hold")
async def hold_status(session_id: str, claims: Admin, request: Request) -> HoldStatus:
    settings = _settings(request)
    await run_in_threadpool(_checked_session, settings, claims, session_id)
    return await run_in_threadpool(_status, settings, session_id)
