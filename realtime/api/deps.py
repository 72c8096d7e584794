"""Request dependencies: the shared services, the caller's verified token, access checks.

A token comes only in the ``Authorization: Bearer`` header. The one thing a browser cannot
give a header to, an ``EventSource`` stream, is opened with a single-use ``ticket`` query
parameter bound to the stream's path (``POST /auth/stream-tickets``); images are fetched
with the header. Every authenticated request also spends from its token's rate limit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from realtime.api.auth import TokenClaims, redeem_stream_ticket, verify_token
from realtime.api.problems import Forbidden
from realtime.api.session_registry import ExamSession
from realtime.api.state import RealtimeServices


def get_services(request: Request) -> RealtimeServices:
    return request.app.state.services


Services = Annotated[RealtimeServices, Depends(get_services)]


def get_claims(
    request: Request,
    services: Services,
    ticket: Annotated[str | None, Query(description="stream ticket, for EventSource")] = None,
) -> TokenClaims:
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if bearer or not ticket:
        claims = verify_token(services.settings, bearer)
    else:
        claims = redeem_stream_ticket(services.settings, ticket, request.url.path)
    services.limits.spend(claims)
    return claims


Claims = Annotated[TokenClaims, Depends(get_claims)]


def require_staff(claims: TokenClaims) -> None:
    if claims.role not in ("proctor", "admin"):
        raise Forbidden(f"a {claims.role} token cannot do this; a proctor or admin token can")


def session_for(services: RealtimeServices, claims: TokenClaims, session_id: str) -> ExamSession:
    """The session, if the token reaches it (403 otherwise, 404 if it does not exist)."""
    if claims.role == "student" and claims.session_id != session_id:
        raise Forbidden("this student token belongs to another session")
    session = services.registry.get(session_id)
    if not claims.can_reach_session(session.session_id, session.institution_id):
        raise Forbidden("this session belongs to another institution")
    if not claims.reaches_exam(session.exam_id):
        raise Forbidden("this token serves another course's exams")
    return session
