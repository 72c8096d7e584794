"""Accommodations over HTTP: an institution's admin sets a student's for an exam; the student
takes the breaks it allows from the exam page.

The record and its rule live in ``proctorlake.core.accommodations``, their storage and audit
trail in ``proctorlake.services.accommodations``; this router checks the caller and maps
refusals to problem details.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from proctorlake.core.accommodations import (
    DEFAULT_BREAK_S,
    MAX_BREAK_S,
    MAX_BREAKS,
    Accommodation,
    AccommodationError,
)
from proctorlake.services import accommodations
from realtime.api.deps import Claims, Services, session_for
from realtime.api.errors import ApiProblem
from realtime.api.problems import Forbidden

router = APIRouter(tags=["accommodations"])


class AccommodationBody(BaseModel):
    """What a student is allowed in one exam (see ``proctorlake.core.accommodations``)."""

    exempt_incident_types: list[str] = Field(
        default_factory=list, description="detector incident types never raised, e.g. gaze_away"
    )
    breaks_allowed: int = Field(0, ge=0, le=MAX_BREAKS)
    break_max_s: float = Field(DEFAULT_BREAK_S, gt=0, le=MAX_BREAK_S)
    min_duration_s: dict[str, float] = Field(
        default_factory=dict, description="per incident type: shorter flags are not raised"
    )

    def to_accommodation(self) -> Accommodation:
        try:
            return Accommodation.from_dict(self.model_dump())
        except AccommodationError as exc:
            raise ApiProblem(str(exc), 422) from exc


class AccommodationChangeOut(BaseModel):
    change_id: str
    accommodation: AccommodationBody
    set_by: str
    set_at: dt.datetime


class AccommodationStatus(BaseModel):
    institution_id: str
    exam_id: str
    student_id: str
    current: AccommodationBody
    history: list[AccommodationChangeOut] = Field(description="every change, oldest first")


class BreakStatus(BaseModel):
    session_id: str
    breaks_allowed: int
    breaks_taken: int
    break_max_s: float
    on_break: bool
    break_started_at: dt.datetime | None = None


def _admin(claims, exam_id: str) -> None:
    if claims.role != "admin":
        raise Forbidden(f"a {claims.role} token cannot set accommodations; an admin token can")
    if not claims.reaches_exam(exam_id):
        raise Forbidden("this token serves another course's exams")


def _status(services, institution_id: str, exam_id: str, student_id: str) -> AccommodationStatus:
    history = accommodations.accommodation_history(
        services.settings, institution_id, exam_id, student_id
    )
    current = history[-1].accommodation if history else Accommodation()
    return AccommodationStatus(
        institution_id=institution_id,
        exam_id=exam_id,
        student_id=student_id,
        current=AccommodationBody(**current.to_dict()),
        history=[
            AccommodationChangeOut(
                change_id=c.change_id,
                accommodation=AccommodationBody(**c.accommodation.to_dict()),
                set_by=c.set_by,
                set_at=c.set_at,
            )
            for c in history
        ],
    )


_STUDENT_PATH = "/accommodations/{exam_id}/students/{student_id}"


@router.get(_STUDENT_PATH, response_model=AccommodationStatus)
async def get_accommodation(
    exam_id: str, student_id: str, claims: Claims, services: Services
) -> AccommodationStatus:
    _admin(claims, exam_id)
    return await run_in_threadpool(_status, services, claims.institution_id, exam_id, student_id)


@router.put(_STUDENT_PATH, response_model=AccommodationStatus)
async def set_accommodation(
    exam_id: str, student_id: str, body: AccommodationBody, claims: Claims, services: Services
) -> AccommodationStatus:
    """Replace the student's accommodation for the exam (audited: who, when, what); it
    applies at once, to a session already open too."""
    _admin(claims, exam_id)
    accommodation = body.to_accommodation()
    await run_in_threadpool(
        accommodations.set_accommodation,
        services.settings,
        claims.institution_id,
        exam_id,
        student_id,
        accommodation,
        claims.subject,
    )
    services.allowances.forget_all()
    return await run_in_threadpool(_status, services, claims.institution_id, exam_id, student_id)


def _break_status(services, session) -> BreakStatus:
    accommodation = services.allowances.accommodation(session)
    rows = services.allowances.breaks(session)
    open_rows = [r for r in rows if r["ended_at"] is None]
    return BreakStatus(
        session_id=session.session_id,
        breaks_allowed=accommodation.breaks_allowed,
        breaks_taken=len(rows),
        break_max_s=accommodation.break_max_s,
        on_break=bool(open_rows),
        break_started_at=open_rows[0]["started_at"] if open_rows else None,
    )


def _student_session(services, claims, session_id: str):
    if claims.role != "student":
        raise Forbidden("only the student takes a break")
    session = session_for(services, claims, session_id)
    services.registry.require_open(session_id)
    return session


@router.get("/sessions/{session_id}/breaks", response_model=BreakStatus)
async def break_status(session_id: str, claims: Claims, services: Services) -> BreakStatus:
    session = await run_in_threadpool(session_for, services, claims, session_id)
    return await run_in_threadpool(_break_status, services, session)


def _change_break(services, claims, session_id: str, start: bool) -> BreakStatus:
    session = _student_session(services, claims, session_id)
    try:
        if start:
            accommodation = services.allowances.accommodation(session)
            accommodations.start_break(
                services.settings, session.session_id, session.institution_id, accommodation
            )
        else:
            accommodations.end_break(services.settings, session.session_id)
    except accommodations.BreakRefused as exc:
        raise ApiProblem(str(exc), 422) from exc  # 409 means "session closed" to the page
    finally:
        services.allowances.forget(session.session_id)
    return _break_status(services, session)


@router.post(
    "/sessions/{session_id}/breaks",
    status_code=status.HTTP_201_CREATED,
    response_model=BreakStatus,
)
async def start_break(session_id: str, claims: Claims, services: Services) -> BreakStatus:
    """Start one of the breaks the student's accommodation allows (422 when none is left):
    an absence during it is counted, not flagged."""
    return await run_in_threadpool(_change_break, services, claims, session_id, True)


@router.post("/sessions/{session_id}/breaks/end", response_model=BreakStatus)
async def end_break(session_id: str, claims: Claims, services: Services) -> BreakStatus:
    """Back at the desk: the open break ends."""
    return await run_in_threadpool(_change_break, services, claims, session_id, False)
