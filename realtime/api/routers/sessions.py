"""The `sessions` resource: create a session, feed it frames and recording, follow its events."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from proctorlake.core.vocabulary import ProctorActionType
from proctorlake.services.gateway_recording import GatewayRoom, open_room
from proctorlake.storage.gateway import GatewayError
from realtime.api.auth import issue_token, verify_token
from realtime.api.client_clock import capture_time_ms, start_time_ms
from realtime.api.deps import Claims, Services, require_staff, session_for
from realtime.api.errors import ApiProblem
from realtime.api.frame_intake import MAX_FRAME_BYTES, FrameRejected
from realtime.api.live_feed import relay_events, sse_message
from realtime.api.payloads import (
    ChunkStored,
    FrameAccepted,
    GatewayRoomInfo,
    SessionCreate,
    SessionCreated,
    SessionEndpoints,
    SessionInfo,
    SessionStart,
)
from realtime.api.problems import Forbidden
from realtime.api.request_body import read_capped, spool_capped
from realtime.api.session_registry import ExamSession

router = APIRouter(prefix="/sessions", tags=["sessions"])

FRAME_INTERVAL_S = {"webcam": 1.0, "screen": 10.0}
SEGMENT_SECONDS = 10
STUDENT_ACTIONS = (ProctorActionType.MESSAGE, ProctorActionType.END_SESSION)
"""What the exam client hears of proctor.actions: never the reviews of its incidents."""


def _info(session: ExamSession) -> SessionInfo:
    return SessionInfo(
        session_id=session.session_id,
        institution_id=session.institution_id,
        exam_id=session.exam_id,
        tier=session.tier,
        status=session.status,
        created_at=session.created_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        recording=session.policy.recording,
    )


def _endpoints(session_id: str) -> SessionEndpoints:
    base = f"/sessions/{session_id}"
    return SessionEndpoints(
        session=base,
        start=f"{base}/start",
        webcam_frames=f"{base}/frames/webcam",
        screen_frames=f"{base}/frames/screen",
        webcam_chunks=f"{base}/chunks/webcam",
        screen_chunks=f"{base}/chunks/screen",
        events=f"{base}/events",
        exam_page="/exam",
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionCreated)
def create_session(body: SessionCreate, claims: Claims, services: Services) -> SessionCreated:
    """Register a session (proctor or admin of the institution) and mint the student's token."""
    require_staff(claims)
    if claims.institution_id != body.institution_id:
        raise Forbidden("a token can only create sessions of its own institution")
    if not claims.reaches_exam(body.exam_id):
        raise Forbidden("this token serves another course's exams")
    session = services.registry.create(
        exam_id=body.exam_id,
        student_id=body.student_id,
        institution_id=body.institution_id,
        tier=body.tier,
        policy=body.policy.to_policy(),
        student_name=body.student_name,
        student_id_number=body.student_id_number,
    )
    token = issue_token(
        services.settings,
        subject=body.student_id,
        role="student",
        institution_id=body.institution_id,
        session_id=session.session_id,
    )
    expires = verify_token(services.settings, token).expires_at
    return SessionCreated(
        session_id=session.session_id,
        token=token,
        token_expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
        tier=session.tier,
        frame_interval_s=FRAME_INTERVAL_S,
        segment_seconds=SEGMENT_SECONDS,
        endpoints=_endpoints(session.session_id),
    )


@router.get("/{session_id}", response_model=SessionInfo)
def get_session(session_id: str, claims: Claims, services: Services) -> SessionInfo:
    return _info(session_for(services, claims, session_id))


@router.post("/{session_id}/start", response_model=SessionInfo)
def start_session(
    session_id: str, body: SessionStart, claims: Claims, services: Services
) -> SessionInfo:
    """Start (or, for a reconnecting client, continue) the session; the first start wins."""
    session = session_for(services, claims, session_id)
    started_ms = start_time_ms(body.started_at_ms, session, int(time.time() * 1000))
    started = dt.datetime.fromtimestamp(started_ms / 1000, dt.UTC)
    return _info(services.registry.start(session.session_id, started))


@router.post("/{session_id}/gateway", response_model=GatewayRoomInfo)
def open_gateway_room(session_id: str, claims: Claims, services: Services) -> GatewayRoomInfo:
    """The room the exam page publishes into (made, or made again after a gateway restart);
    the gateway records it. Only for a started, open session."""
    session = session_for(services, claims, session_id)
    if session.started_at_ms is None or not session.is_open:
        raise FrameRejected(409, "the session is not in progress")
    room = GatewayRoom(
        session.session_id, session.institution_id, session.exam_id, session.started_at_ms
    )
    try:
        return GatewayRoomInfo(**open_room(services.settings, room))
    except (GatewayError, OSError) as exc:  # down or restarting: the page retries
        raise ApiProblem(f"the media gateway is unavailable: {exc}", 503) from exc


@router.post("/{session_id}/end", response_model=SessionInfo)
def end_session(session_id: str, claims: Claims, services: Services) -> SessionInfo:
    """The student hands in: the session ends normally."""
    session = session_for(services, claims, session_id)
    return _info(services.registry.end(session.session_id, status="ended"))


@router.post(
    "/{session_id}/frames/{track}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FrameAccepted,
    openapi_extra={"requestBody": {"content": {"image/jpeg": {"schema": {"type": "string"}}}}},
)
async def post_frame(
    session_id: str,
    track: str,
    request: Request,
    claims: Claims,
    services: Services,
    captured_at_ms: Annotated[int | None, Header(alias="X-Captured-At-Ms", ge=0)] = None,
) -> FrameAccepted:
    """One JPEG (webcam once a second, screen every ten seconds), published to Kafka."""
    session = await run_in_threadpool(session_for, services, claims, session_id)
    await run_in_threadpool(services.registry.require_open, session_id)
    if track not in MAX_FRAME_BYTES:
        raise FrameRejected(404, f"unknown track {track!r}; use webcam or screen")
    jpeg = await read_capped(request, MAX_FRAME_BYTES[track])
    captured = capture_time_ms(captured_at_ms, session, int(time.time() * 1000))
    if session.started_at is None:
        started = dt.datetime.fromtimestamp(captured / 1000, dt.UTC)
        session = await run_in_threadpool(services.registry.start, session_id, started)
    receipt = await run_in_threadpool(services.intake.accept, session, track, jpeg, captured)
    services.registry.touch(session_id)
    if receipt.gap_before_ms is not None:
        gap_from = captured - receipt.gap_before_ms
        await run_in_threadpool(services.registry.record_gap, session, gap_from, captured)
    return FrameAccepted(**receipt.__dict__)


@router.post(
    "/{session_id}/chunks/{track}",
    status_code=status.HTTP_201_CREATED,
    response_model=ChunkStored,
    openapi_extra={"requestBody": {"content": {"video/webm": {"schema": {"type": "string"}}}}},
)
async def post_chunk(
    session_id: str,
    track: str,
    request: Request,
    claims: Claims,
    services: Services,
    chunk_start_ms: Annotated[int, Query(ge=0)],
    chunk_end_ms: Annotated[int, Query(gt=0)],
) -> ChunkStored:
    """One self-contained WebM segment of the recording, stored in the object store.

    An ended session accepts none (409): the exam client uploads its last segment before it
    hands in. The body is streamed to disk, capped at ``max_segment_bytes``.
    """
    session = await run_in_threadpool(session_for, services, claims, session_id)
    await run_in_threadpool(services.registry.require_open, session_id)
    settings = services.settings
    upload = await spool_capped(request, settings.max_segment_bytes, settings.upload_tmp_dir)
    try:
        entry, new = await run_in_threadpool(
            services.uploads.store_segment, session, track, chunk_start_ms, chunk_end_ms, upload
        )
    finally:
        upload.discard()
    services.registry.touch(session_id)
    return ChunkStored(
        session_id=session_id,
        track=track,
        key=entry["original_key"],
        chunk_index=entry["chunk_index"],
        chunk_start_ms=entry["chunk_start_ms"],
        chunk_end_ms=entry["chunk_end_ms"],
        bytes=entry["bytes"],
        new=new,
    )


@router.get("/{session_id}/events")
async def session_events(
    session_id: str, request: Request, claims: Claims, services: Services
) -> StreamingResponse:
    """SSE for the exam client: proctor messages and the end of the session.

    The first event is the session's current status, so a client that reconnects after a
    network drop learns at once whether its session was ended meanwhile.
    """
    session = await run_in_threadpool(session_for, services, claims, session_id)
    release = services.limits.streams.acquire(claims.jti)
    subscriber = services.feed.subscribe(
        lambda kind, event: (
            kind == "action"
            and event.get("session_id") == session_id
            and event.get("action_type") in STUDENT_ACTIONS
        )
    )

    async def stream():
        try:
            current = await run_in_threadpool(services.registry.get, session.session_id)
            yield sse_message("status", {"session_id": session_id, "status": current.status})
            async for message in relay_events(
                request.is_disconnected, subscriber.queue, lambda _k, e: e.get("action_id")
            ):
                yield message
        finally:
            services.feed.unsubscribe(subscriber)
            release()

    return StreamingResponse(
        stream(), media_type="text/event-stream", background=BackgroundTask(release)
    )
