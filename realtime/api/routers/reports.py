"""``GET /sessions/{session_id}/report``: the post-exam incident report, for staff only.

Proctors and admins of the session's institution; the report itself is built by
``proctorlake.services.reports`` (the CLI prints the same one).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from proctorlake.services.reports import build_report, render_report
from realtime.api.deps import Claims, Services, require_staff, session_for

router = APIRouter(prefix="/sessions", tags=["reports"])


class SessionReport(BaseModel):
    session: dict
    summary: dict | None
    incidents: list[dict]
    identity_verifications: list[dict]
    proctor_actions: list[dict]
    generated_at: dt.datetime


@router.get(
    "/{session_id}/report",
    response_model=SessionReport,
    responses={200: {"content": {"text/html": {}}}},
    summary="Incident report with video links, identity record, proctor actions, reviews",
)
async def session_report(
    session_id: str,
    claims: Claims,
    services: Services,
    format: Literal["json", "html"] = Query("json", description="json (default) or html"),
):
    require_staff(claims)
    session_for(services, claims, session_id)  # 404 unknown, 403 another institution
    if format == "html":
        page = await run_in_threadpool(render_report, services.settings, session_id, "html")
        return HTMLResponse(page)
    return await run_in_threadpool(build_report, services.settings, session_id)
