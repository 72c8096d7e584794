"""The `proctoring` resource: the live incident stream, session overview and proctor actions.

Everything here needs a proctor or admin token and shows only the token's institution (and,
for a token from an LTI course launch, only that course's exams).
"""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from proctorlake.core import schemas
from proctorlake.core.vocabulary import Severity
from proctorlake.services import reviews
from proctorlake.services.gateway_recording import room_access
from proctorlake.storage import lake
from proctorlake.storage.object_store import ObjectNotFound, live_thumbnail_key
from realtime.api.auth import TokenClaims
from realtime.api.deps import Claims, Services, require_staff, session_for
from realtime.api.errors import ThumbnailNotFound
from realtime.api.live_feed import relay_events, review_item, sse_message
from realtime.api.payloads import (
    ActionIn,
    ActionRecorded,
    GatewayRoomInfo,
    Incident,
    LiveSession,
    Review,
    ReviewIn,
    ReviewRecordedOut,
)
from realtime.api.session_registry import UnknownSession
from realtime.api.state import RealtimeServices

router = APIRouter(prefix="/proctoring", tags=["proctoring"])


def _session_rows(services: RealtimeServices, table_name: str, session_id: str) -> list[dict]:
    table = lake.open_table(services.settings, table_name)
    if table is None:
        return []
    dataset = table.to_pyarrow_dataset()
    return dataset.to_table(
        filter=pc.field("session_id").cast(pa.string()) == session_id
    ).to_pylist()


def _load_history(services: RealtimeServices, session_id: str) -> None:
    """Once per session and process: incidents and failed identity checks from Delta, so a
    restarted API shows what happened before it started following the topics."""
    feed = services.feed
    if session_id in feed.loaded:
        return
    for row in _session_rows(services, schemas.STREAM_INCIDENTS.name, session_id):
        feed.remember_incident(services.incident_policy.view(row), only_if_new=True)
    for row in _session_rows(services, schemas.IDENTITY_VERIFICATIONS.name, session_id):
        if not row["verified"]:
            event = {**row, "review_required": True, "at": row["verified_at"].isoformat()}
            feed.remember_review(review_item(event), only_if_new=True)
    feed.loaded.add(session_id)


def _timeline(services: RealtimeServices, session_id: str) -> list[dict]:
    """The session's raised incidents: live ones from the feed, older ones read back from
    Delta. One its student's accommodation suppresses (checked again now: a break or an
    admin's change may have come after it arrived) is counted, not listed."""
    _load_history(services, session_id)
    views = (services.incident_policy.view(i) for i in services.feed.incidents_of(session_id))
    return [v for v in views if v["suppressed_by"] is None]


def _reviews(services: RealtimeServices, session_id: str) -> list[Review]:
    _load_history(services, session_id)
    return [
        Review(**{k: item.get(k) for k in Review.model_fields})
        for item in services.feed.reviews_of(session_id)
    ]


def _incident(item: dict) -> Incident:
    return Incident(**{k: item.get(k) for k in Incident.model_fields})


@router.get("/live")
async def live(
    request: Request,
    claims: Claims,
    services: Services,
    severity: Annotated[Severity, Query(description="lowest severity to stream")] = Severity.MEDIUM,
) -> StreamingResponse:
    """Server-sent events of the institution: incidents of its human-proctored sessions at
    or above ``severity``, identity checks that need a review, and session lifecycle."""
    require_staff(claims)
    institution = claims.institution_id
    threshold = Severity(severity).rank

    def accepts(kind: str, event: dict) -> bool:
        if event.get("institution_id") != institution:
            return False
        if claims.exam_scope is not None and not _in_scope(services, claims, event):
            return False
        if kind in ("review", "session"):
            return True
        return (
            kind == "incident"
            and event["alert"]
            and Severity.rank_of(event.get("severity")) >= threshold
        )

    release = services.limits.streams.acquire(claims.jti)
    subscriber = services.feed.subscribe(accepts)

    async def stream():
        try:
            yield sse_message("ready", {"institution_id": institution, "severity": severity})
            async for message in relay_events(request.is_disconnected, subscriber.queue, _event_id):
                yield message
        finally:
            services.feed.unsubscribe(subscriber)
            release()

    return StreamingResponse(
        stream(), media_type="text/event-stream", background=BackgroundTask(release)
    )


def _in_scope(services: RealtimeServices, claims: TokenClaims, event: dict) -> bool:
    """Whether a course-scoped token may see the event (its session's exam is the course's)."""
    exam_id = event.get("exam_id")
    if exam_id is None:
        try:
            exam_id = services.registry.get(event.get("session_id") or "").exam_id
        except UnknownSession:
            return False
    return claims.reaches_exam(exam_id)


def _event_id(kind: str, event: dict) -> str:
    if kind == "incident":
        return f"{event['incident_id']}:{event['state']}"
    if kind == "review":
        return f"{event['record_id']}:review"
    return f"{event['session_id']}:{event.get('event')}"


@router.get("/sessions", response_model=list[LiveSession])
def live_sessions(claims: Claims, services: Services) -> list[LiveSession]:
    """Open sessions of the institution, the most severe first; a pending identity review
    ranks like a high-severity incident (the person may not be the student)."""
    require_staff(claims)
    result = []
    for session in services.registry.open_sessions(claims.institution_id):
        if not claims.reaches_exam(session.exam_id):
            continue
        incidents = _timeline(services, session.session_id)
        reviews = _reviews(services, session.session_id)
        worst = max((Severity.rank_of(i["severity"]) for i in incidents), default=-1)
        result.append(
            LiveSession(
                session_id=session.session_id,
                exam_id=session.exam_id,
                student_id=session.student_id,
                status=session.status,
                tier=session.tier,
                started_at=session.started_at,
                max_severity=list(Severity)[worst] if worst >= 0 else None,
                open_incidents=sum(1 for i in incidents if i["state"] != "closed"),
                incidents=[_incident(i) for i in incidents],
                reviews=reviews,
            )
        )

    def urgency(s: LiveSession) -> int:
        high = Severity.HIGH.rank if s.reviews else -1
        return max(Severity.rank_of(s.max_severity), high)

    result.sort(key=lambda s: (-urgency(s), s.started_at is None, s.session_id))
    return result


@router.get("/sessions/{session_id}/incidents", response_model=list[Incident])
def session_incidents(session_id: str, claims: Claims, services: Services) -> list[Incident]:
    require_staff(claims)
    session = session_for(services, claims, session_id)
    return [_incident(i) for i in _timeline(services, session.session_id)]


@router.get("/sessions/{session_id}/gateway", response_model=GatewayRoomInfo)
def live_gateway_room(session_id: str, claims: Claims, services: Services) -> GatewayRoomInfo:
    """Where the proctor page watches the session's live webcam and screen (the gateway)."""
    require_staff(claims)
    session = session_for(services, claims, session_id)
    return GatewayRoomInfo(**room_access(services.settings, session.session_id))


@router.get(
    "/sessions/{session_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def thumbnail(session_id: str, claims: Claims, services: Services) -> Response:
    """The latest webcam frame of the session (refreshed every few seconds), from the object
    store: any API process serves it, whichever one received the frame."""
    require_staff(claims)
    session = session_for(services, claims, session_id)
    try:
        jpeg = services.store.get_bytes(live_thumbnail_key(session.session_id))
    except ObjectNotFound:
        raise ThumbnailNotFound(f"session {session_id} has sent no webcam frame yet") from None
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post(
    "/sessions/{session_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionRecorded,
)
async def act(session_id: str, body: ActionIn, claims: Claims, services: Services):
    """Send the student a message, or end the session; both are audited."""
    require_staff(claims)
    session = await run_in_threadpool(session_for, services, claims, session_id)
    if body.type == "message":
        action = await run_in_threadpool(
            services.actions.send_message, session, claims.subject, body.message or ""
        )
    else:
        action = await run_in_threadpool(
            services.actions.end_session, session, claims.subject, body.message
        )
    return ActionRecorded(**{k: action[k] for k in ActionRecorded.model_fields})


@router.post(
    "/sessions/{session_id}/incidents/{incident_id}/review",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRecordedOut,
)
async def review(
    session_id: str, incident_id: str, body: ReviewIn, claims: Claims, services: Services
) -> ReviewRecordedOut:
    """Confirm or dismiss one of the session's incidents; written and audited the same way as
    a review in the dashboard (``proctorlake.services.reviews``)."""
    require_staff(claims)
    session = await run_in_threadpool(session_for, services, claims, session_id)
    recorded = await run_in_threadpool(
        lambda: reviews.record_review(
            services.settings,
            session.institution_id,
            incident_id,
            body.resolution,
            reviewer=claims.subject,
            session_id=session.session_id,
            producer=services.producer,
        )
    )
    return ReviewRecordedOut(**{k: getattr(recorded, k) for k in ReviewRecordedOut.model_fields})
