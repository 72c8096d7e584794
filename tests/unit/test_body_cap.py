"""Every request body is capped before a route reads it (JSON and multipart are parsed before
the token is checked): found in the security write-up after review #7."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from realtime.api.body_cap import SMALL_BODY_BYTES, BodyCap, body_cap_for
from realtime.api.problems import install_problem_handlers


def make_app() -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodyCap, cap_for=body_cap_for(8 * 1024 * 1024))
    seen: list[int] = []

    @app.post("/sessions")
    async def create(request: Request) -> dict:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    @app.post("/sessions/{session_id}/chunks/{track}")
    async def chunk(request: Request) -> dict:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    return app, seen


def test_a_declared_body_over_the_cap_is_refused_before_any_route_runs():
    app, seen = make_app()
    with TestClient(app) as client:
        response = client.post("/sessions", content=b"x" * (SMALL_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "limit" in response.json()["detail"]
    assert seen == []


def test_a_body_without_a_declared_length_is_counted_as_it_arrives():
    app, seen = make_app()

    def stream():
        for _ in range(3):
            yield b"x" * (SMALL_BODY_BYTES // 2)

    with TestClient(app) as client:
        response = client.post("/sessions", content=stream())
    assert response.status_code == 413
    assert "passed the" in response.json()["detail"]
    assert seen == []


def test_each_route_has_its_own_cap():
    app, seen = make_app()
    with TestClient(app) as client:
        small = client.post("/sessions", content=b"{}")
        chunk = client.post("/sessions/s-1/chunks/webcam", content=b"x" * (2 * SMALL_BODY_BYTES))
    assert (small.status_code, chunk.status_code) == (200, 200)
    assert seen == [2, 2 * SMALL_BODY_BYTES]
