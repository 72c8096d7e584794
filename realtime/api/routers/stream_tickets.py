"""The `auth` resource: exchange a bearer token for a single-use event-stream ticket.

``EventSource`` cannot send an ``Authorization`` header, and a token in a URL ends up in
logs and browser history; a ticket is good for one stream path, once, for seconds.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from realtime.api.auth import issue_stream_ticket
from realtime.api.deps import Claims, Services

router = APIRouter(prefix="/auth", tags=["auth"])
STREAM_PATHS = re.compile(r"^(/proctoring/live|/sessions/[A-Za-z0-9_.-]{1,128}/events)$")


class StreamTicketRequest(BaseModel):
    path: str = Field(description="the stream to open: /proctoring/live or /sessions/{id}/events")


class StreamTicket(BaseModel):
    ticket: str
    path: str
    expires_at: dt.datetime


@router.post("/stream-tickets", status_code=status.HTTP_201_CREATED, response_model=StreamTicket)
def stream_ticket(body: StreamTicketRequest, claims: Claims, services: Services) -> StreamTicket:
    """A ticket for ``GET {path}?ticket=...``; access is checked when the stream opens."""
    if not STREAM_PATHS.match(body.path):
        raise ValueError(f"{body.path!r} is not an event stream of this API")
    ticket = issue_stream_ticket(services.settings, claims, body.path)
    expires = min(
        int(dt.datetime.now(dt.UTC).timestamp()) + services.settings.stream_ticket_ttl_s,
        claims.expires_at,
    )
    return StreamTicket(
        ticket=ticket, path=body.path, expires_at=dt.datetime.fromtimestamp(expires, dt.UTC)
    )
