"""The check-in before recording starts: what the page shows and where it reports each step.

The page (``/checkin``) reads the tier, the privacy notice and the name the ID card must
show (from the roster, never from the page), measures its upload bandwidth against this API,
and reports each step's outcome; consent is recorded like any step, with the notice's
version. Identity goes through ``POST /sessions/{id}/verify-identity`` as before.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from proctorlake.core.checkin import (
    BANDWIDTH_PROBE_BYTES,
    MAX_ATTEMPTS,
    MIN_UPLOAD_KBPS,
    NOTICE_VERSION,
    PRIVACY_NOTICES,
    CheckinOutcome,
    CheckinStep,
)
from proctorlake.core.vocabulary import Tier
from proctorlake.services import checkin
from realtime.api.deps import Claims, Services, session_for
from realtime.api.errors import ApiProblem
from realtime.api.problems import Forbidden
from realtime.api.request_body import read_capped

router = APIRouter(prefix="/sessions", tags=["check-in"])


class CheckinInfo(BaseModel):
    session_id: str
    tier: str
    notice: str
    notice_version: str
    expected_name: str | None = Field(description="the roster's name the ID card must show")
    liveness_required: bool
    max_attempts: int
    min_upload_kbps: int
    probe_bytes: int


class CheckinStepIn(BaseModel):
    step: CheckinStep
    outcome: CheckinOutcome
    attempt: int = Field(ge=1, le=100)
    detail: str | None = Field(None, max_length=checkin.MAX_DETAIL_CHARS)


class CheckinStepOut(BaseModel):
    step: str
    outcome: str = Field(description="human_review once the last attempt failed")
    attempt: int


class BandwidthProbe(BaseModel):
    received_bytes: int


def _student(services, claims, session_id: str):
    if claims.role != "student":
        raise Forbidden("only the student checks in")
    session = session_for(services, claims, session_id)
    services.registry.require_open(session_id)
    return session


@router.get("/{session_id}/checkin", response_model=CheckinInfo)
def checkin_info(session_id: str, claims: Claims, services: Services) -> CheckinInfo:
    session = session_for(services, claims, session_id)
    return CheckinInfo(
        session_id=session.session_id,
        tier=session.tier,
        notice=PRIVACY_NOTICES[Tier(session.tier)],
        notice_version=NOTICE_VERSION,
        expected_name=session.student_name,
        liveness_required=session.policy.liveness_required,
        max_attempts=MAX_ATTEMPTS,
        min_upload_kbps=MIN_UPLOAD_KBPS,
        probe_bytes=BANDWIDTH_PROBE_BYTES,
    )


@router.post("/{session_id}/checkin/bandwidth", response_model=BandwidthProbe)
async def bandwidth_probe(
    session_id: str, request: Request, claims: Claims, services: Services
) -> BandwidthProbe:
    """Read and discard the probe: the client times the upload itself."""
    await run_in_threadpool(_student, services, claims, session_id)
    body = await read_capped(request, BANDWIDTH_PROBE_BYTES)
    return BandwidthProbe(received_bytes=len(body))


@router.post(
    "/{session_id}/checkin/steps",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckinStepOut,
)
async def report_step(
    session_id: str, body: CheckinStepIn, claims: Claims, services: Services
) -> CheckinStepOut:
    """Record one step's outcome (consent included, with the tier and notice version)."""
    session = await run_in_threadpool(_student, services, claims, session_id)
    try:
        row = await run_in_threadpool(
            checkin.record_step,
            services.settings,
            session.session_id,
            session.institution_id,
            body.step,
            body.outcome,
            body.attempt,
            body.detail,
            session.tier,
        )
    except ValueError as exc:
        raise ApiProblem(str(exc), 422) from exc
    return CheckinStepOut(step=row["step"], outcome=row["outcome"], attempt=row["attempt"])
