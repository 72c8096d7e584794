"""Legal holds over real HTTP (uvicorn on loopback): admin only, own institution, audited."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from proctorlake.core.settings import Settings
from proctorlake.governance.legal_holds import hold_history
from proctorlake.governance.retention import run_retention
from realtime.api.auth import issue_token
from realtime.api.problems import install_problem_handlers
from realtime.api.routers import holds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def holds_api(settings: Settings) -> Iterator[httpx.Client]:
    app = FastAPI()
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(holds.router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def _auth(settings: Settings, role: str = "admin", institution: str = "uni-a") -> dict:
    token = issue_token(settings, "admin-7", role, institution)
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_holds_and_releases_a_session_over_http(
    settings: Settings, holds_api: httpx.Client, aged_session_factory
) -> None:
    aged_session_factory(settings, "api-old", "uni-a", 800)
    admin = _auth(settings)

    placed = holds_api.post("/sessions/api-old/hold", json={"reason": "case 31"}, headers=admin)
    assert placed.status_code == 201, placed.text
    assert placed.json()["held"] is True
    assert run_retention(settings).held == ["api-old"]

    again = holds_api.post("/sessions/api-old/hold", json={"reason": "case 31"}, headers=admin)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    lifted = holds_api.delete("/sessions/api-old/hold", params={"reason": "closed"}, headers=admin)
    assert lifted.status_code == 200 and lifted.json()["held"] is False
    history = holds_api.get("/sessions/api-old/hold", headers=admin).json()["history"]
    assert [(e["action"], e["actor"], e["reason"]) for e in history] == [
        ("placed", "admin-7", "case 31"),
        ("released", "admin-7", "closed"),
    ]
    assert [e.action for e in hold_history(settings, "api-old")] == ["placed", "released"]


def test_holds_are_refused_to_others(
    settings: Settings, holds_api: httpx.Client, aged_session_factory
) -> None:
    aged_session_factory(settings, "api-x", "uni-a", 10)
    body = {"reason": "case 1"}
    assert holds_api.post("/sessions/api-x/hold", json=body).status_code == 401
    forged = {"Authorization": "Bearer not.a.token"}
    assert holds_api.post("/sessions/api-x/hold", json=body, headers=forged).status_code == 401
    proctor = _auth(settings, role="proctor")
    assert holds_api.post("/sessions/api-x/hold", json=body, headers=proctor).status_code == 403
    other = _auth(settings, institution="uni-b")
    assert holds_api.post("/sessions/api-x/hold", json=body, headers=other).status_code == 403
    admin = _auth(settings)
    assert holds_api.post("/sessions/nope/hold", json=body, headers=admin).status_code == 404
    empty = holds_api.post("/sessions/api-x/hold", json={"reason": ""}, headers=admin)
    assert empty.status_code == 422
    assert hold_history(settings) == []
