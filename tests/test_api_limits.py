"""Security review #7, #11, #18 against the running API: rates, caps, quotas, expiry, URLs.

Each test starts the API with small limits (environment variables, as an operator sets them)
and checks the HTTP answers a client gets.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from proctorlake.storage.video import write_video
from tests.fixtures.realtime import SseReader, bearer, jpeg_bytes

QUOTA_BYTES = 1000


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> bytes:
    """A real one-second WebM segment (uploads are checked down to their timeline)."""
    frames = (np.full((48, 64, 3), v, np.uint8) for v in range(0, 250, 50))
    path = write_video(tmp_path_factory.mktemp("webm") / "segment.webm", frames, 5, codec="libvpx")
    data = path.read_bytes()
    assert 2 * len(data) > QUOTA_BYTES > len(data)
    return data


@pytest.fixture
def small_limits(monkeypatch):
    for name, value in {
        "STUDENT_REQUESTS_PER_S": "1",
        "REQUEST_BURST": "8",
        "SSE_STREAMS_PER_TOKEN": "2",
        "MAX_SEGMENT_BYTES": "4096",
        "SESSION_CHUNK_QUOTA_BYTES": str(QUOTA_BYTES),
    }.items():
        monkeypatch.setenv(f"PROCTORLAKE_{name}", value)


def _problem(response: httpx.Response, status: int, text: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert text in body["detail"], body
    return body


def _chunk(client, session, start_ms, body, token=None, **kwargs):
    return client.post(
        session["endpoints"]["webcam_chunks"],
        params={"chunk_start_ms": start_ms, "chunk_end_ms": start_ms + 1000},
        content=body,
        headers=bearer(token or session["token"]) | {"Content-Type": "video/webm"},
        **kwargs,
    )


def test_security_7_rate_quota_body_cap_and_ended_sessions(small_limits, realtime_api, webm):
    api = realtime_api
    session = api.create_session()
    staff = api.staff_token("inst-a")
    with api.client() as client:
        # the body cap: a declared length over it, and a streamed body that passes it
        _problem(_chunk(client, session, 0, b"\x1a\x45\xdf\xa3" + b"\x00" * 5000), 413, "limit")

        def streamed():
            yield b"\x1a\x45\xdf\xa3"
            for _ in range(10):
                yield b"\x00" * 1000

        _problem(_chunk(client, session, 0, streamed()), 413, "limit")
        spool = api.settings.upload_tmp_dir
        assert spool.is_dir() and not list(spool.iterdir())  # refused uploads leave nothing
        # the per-session quota: a second segment would pass it
        assert _chunk(client, session, 0, webm).status_code == 201
        _problem(_chunk(client, session, 1000, webm), 413, "quota")
        assert not list(spool.iterdir())
        # the request rate: a burst of 8, then 1 request/s
        answers = [
            client.get(f"/sessions/{session['session_id']}", headers=bearer(session["token"]))
            for _ in range(10)
        ]
        limited = [r for r in answers if r.status_code == 429]
        assert limited and all(r.status_code in (200, 429) for r in answers)
        body = _problem(limited[0], 429, "requests/s")
        assert int(limited[0].headers["Retry-After"]) >= 1 and body["retry_after_s"] >= 1
        # staff tokens have their own budget
        assert client.get("/proctoring/sessions", headers=bearer(staff)).status_code == 200
        # after the end: no chunk and no frame, whoever sends them
        ended = client.post(
            f"/proctoring/sessions/{session['session_id']}/actions",
            json={"type": "end_session"},
            headers=bearer(staff),
        )
        assert ended.status_code == 201, ended.text
        _problem(_chunk(client, session, 2000, webm[:100], token=staff), 409, "terminated")
        frame = client.post(
            session["endpoints"]["webcam_frames"],
            content=jpeg_bytes(),
            headers=bearer(staff) | {"Content-Type": "image/jpeg"},
        )
        _problem(frame, 409, "terminated")
        _problem(_chunk(client, session, 2000, webm[:100]), 409, "revoked")


def test_security_11_event_streams_are_capped_per_token(small_limits, realtime_api):
    api = realtime_api
    proctor = api.staff_token("inst-a")
    url = f"{api.base_url}/proctoring/live"
    first, second = SseReader(url, {"token": proctor}), SseReader(url, {"token": proctor})
    try:
        assert (first.status_code, second.status_code) == (200, 200)
        third = SseReader(url, {"token": proctor})
        assert third.status_code == 429
        other = SseReader(url, {"token": api.staff_token("inst-a")})
        assert other.status_code == 200  # the cap is per token
        other.close()
    finally:
        first.close()
        second.close()


@pytest.fixture
def short_sessions(monkeypatch):
    monkeypatch.setenv("PROCTORLAKE_SESSION_IDLE_TIMEOUT_S", "3")
    monkeypatch.setenv("PROCTORLAKE_ENDED_SESSION_GRACE_S", "2")


def test_security_11_idle_sessions_expire_with_an_ended_event(short_sessions, realtime_api):
    api = realtime_api
    proctor = api.staff_token("inst-a")
    live = SseReader(f"{api.base_url}/proctoring/live", {"token": proctor, "severity": "low"})
    session = api.create_session()
    sid = session["session_id"]
    with api.client() as client:
        assert (
            client.post(
                session["endpoints"]["webcam_frames"],
                content=jpeg_bytes(),
                headers=bearer(session["token"]) | {"Content-Type": "image/jpeg"},
            ).status_code
            == 202
        )
        _, ended, _ = live.next_event(
            lambda k, e: k == "session" and e["session_id"] == sid and e["event"] == "ended",
            timeout_s=30,
        )
        assert ended["status"] == "ended"
        info = client.get(f"/sessions/{sid}", headers=bearer(proctor)).json()
        assert info["status"] == "ended"
        listed = client.get("/proctoring/sessions", headers=bearer(proctor)).json()
        assert sid not in [s["session_id"] for s in listed]
    live.close()


def test_security_18_no_tokens_in_stream_or_image_urls(realtime_api):
    api = realtime_api
    session = api.create_session()
    sid = session["session_id"]
    proctor = api.staff_token("inst-a")
    with api.client() as client:
        old_style = client.get("/proctoring/live", params={"token": proctor})
        assert old_style.status_code == 401
        thumb = client.get(f"/proctoring/sessions/{sid}/thumbnail", params={"token": proctor})
        assert thumb.status_code == 401
        ticket = client.post(
            "/auth/stream-tickets",
            json={"path": f"/sessions/{sid}/events"},
            headers=bearer(session["token"]),
        ).json()["ticket"]
        with client.stream("GET", f"/sessions/{sid}/events", params={"ticket": ticket}) as r:
            assert r.status_code == 200
        replay = client.get(f"/sessions/{sid}/events", params={"ticket": ticket})
        assert replay.status_code == 401 and "already used" in replay.json()["detail"]
        other_path = client.post(
            "/auth/stream-tickets",
            json={"path": "https://evil.example/x"},
            headers=bearer(proctor),
        )
        assert other_path.status_code == 400
