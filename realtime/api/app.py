"""The realtime API: one FastAPI app, routers per resource, problem-details errors.

``create_app(settings)`` builds the app; its lifespan connects to Kafka, reads open sessions
back from Delta and starts following the incident and action topics. ``python -m
realtime.api.serve`` runs it with uvicorn.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from proctorlake.core.settings import Settings
from realtime.api.body_cap import BodyCap, body_cap_for
from realtime.api.problems import install_problem_handlers
from realtime.api.routers import (
    accommodations,
    checkin,
    erasure,
    holds,
    identity,
    lti,
    proctoring,
    reports,
    sessions,
    stream_tickets,
    vocabulary,
)
from realtime.api.state import RealtimeServices

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = await run_in_threadpool(RealtimeServices.build, settings)
        await run_in_threadpool(services.start, asyncio.get_running_loop())
        app.state.services = services
        try:
            yield
        finally:
            await run_in_threadpool(services.close)

    app = FastAPI(
        title="ProctorLake realtime API",
        version="0.1.0",
        description="Exam sessions, frame intake, recording upload, live proctoring.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(BodyCap, cap_for=body_cap_for(settings.max_segment_bytes))
    routers = (sessions, proctoring, identity, lti, erasure, holds, reports, stream_tickets)
    routers += (accommodations, checkin)
    for module in (*routers, vocabulary):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/checkin", include_in_schema=False)
    def checkin_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "checkin.html", media_type="text/html")

    @app.get("/exam", include_in_schema=False)
    def exam_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "exam.html", media_type="text/html")

    @app.get("/proctor", include_in_schema=False)
    def proctor_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "proctor.html", media_type="text/html")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return {"status": "ok"}

    return app
