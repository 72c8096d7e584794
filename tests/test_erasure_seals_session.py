"""Erasing a session through the API ends it for good (security review #1 and #10).

Real API process, real broker: after ``DELETE /sessions/{id}/data`` the student's token is
refused everywhere and nothing the session held comes back, also when the erasure ran in
another process than the API that still had the session in memory. An admin cannot erase
(or get a certificate for) a session their institution never had.
"""

from __future__ import annotations

import pytest

from proctorlake.governance.erasure.runner import erase_session
from proctorlake.storage import lake
from proctorlake.storage.object_store import (
    live_thumbnail_key,
    manifest_key,
    object_exists,
    open_object_store,
)
from tests.fixtures.realtime import bearer, jpeg_bytes, webm_segment_bytes

pytestmark = pytest.mark.slow


def _feed(client, session: dict, start_ms: int = 0):
    token = bearer(session["token"])
    frame = client.post(
        session["endpoints"]["webcam_frames"],
        content=jpeg_bytes(),
        headers=token | {"Content-Type": "image/jpeg"},
    )
    chunk = client.post(
        session["endpoints"]["webcam_chunks"],
        params={"chunk_start_ms": start_ms, "chunk_end_ms": start_ms + 1000},
        content=webm_segment_bytes(),
        headers=token | {"Content-Type": "video/webm"},
    )
    return frame, chunk


def _session_rows(settings, session_id: str) -> int:
    return (
        lake.duckdb_connection(settings)
        .execute("select count(*) from exam_sessions where session_id = ?", [session_id])
        .fetchone()[0]
    )


def _assert_nothing_left(settings, session_id: str) -> None:
    store = open_object_store(settings)
    assert not store.exists(manifest_key(session_id))
    assert not list(store.list(f"sessions/{session_id}/"))
    assert not object_exists(settings, live_thumbnail_key(session_id))
    assert _session_rows(settings, session_id) == 0


def _assert_token_refused(client, session: dict) -> None:
    token = bearer(session["token"])
    frame, chunk = _feed(client, session, start_ms=5000)
    assert frame.status_code == 410, frame.text
    assert frame.headers["content-type"].startswith("application/problem+json")
    assert chunk.status_code == 410, chunk.text
    base = f"/sessions/{session['session_id']}"
    assert client.post(f"{base}/end", headers=token).status_code == 410
    assert client.post(f"{base}/start", json={}, headers=token).status_code == 410
    assert client.get(base, headers=token).status_code == 410
    assert client.get(f"{base}/events", headers=token).status_code == 410


def test_erasing_an_open_session_ends_it_revokes_its_token_and_nothing_reappears(
    realtime_api,
) -> None:
    """#1: erasure through the API of a session that is still open."""
    api = realtime_api
    session = api.create_session("inst-a")
    session_id = session["session_id"]
    admin = bearer(api.staff_token("inst-a", "admin"))
    with api.client() as client:
        frame, chunk = _feed(client, session)
        assert frame.status_code == 202, frame.text
        assert chunk.status_code == 201, chunk.text
        assert object_exists(api.settings, live_thumbnail_key(session_id))
        assert client.get(f"/sessions/{session_id}", headers=admin).json()["status"] == "active"

        erased = client.delete(f"/sessions/{session_id}/data", headers=admin)
        assert erased.status_code == 200, erased.text
        assert erased.json()["certificate"]["noop"] is False
        _assert_nothing_left(api.settings, session_id)

        _assert_token_refused(client, session)
        assert client.get(f"/sessions/{session_id}", headers=admin).status_code == 410
        live = client.get("/proctoring/sessions", headers=admin).json()
        assert session_id not in str(live)
    _assert_nothing_left(api.settings, session_id)


def test_erasure_in_another_process_is_seen_by_the_api_that_cached_the_session(
    realtime_api,
) -> None:
    """#1: the erased marker is persistent, so an API process that still holds the session in
    memory refuses it too (here the erasure runs in the test process, as the CLI would)."""
    api = realtime_api
    session = api.create_session("inst-a")
    session_id = session["session_id"]
    with api.client() as client:
        frame, chunk = _feed(client, session)
        assert (frame.status_code, chunk.status_code) == (202, 201)
        erase_session(api.settings, session_id, "inst-a")
        _assert_nothing_left(api.settings, session_id)
        _assert_token_refused(client, session)
    _assert_nothing_left(api.settings, session_id)


def test_admin_cannot_erase_a_session_unknown_to_their_institution(realtime_api) -> None:
    """#10: no certificate (with another institution's student hash) for a session the
    caller's institution never had, whether its row still exists or was erased already."""
    api = realtime_api
    theirs = api.create_session("inst-b", student_id="stu-b")["session_id"]
    admin_a = bearer(api.staff_token("inst-a", "admin"))
    admin_b = bearer(api.staff_token("inst-b", "admin"))
    with api.client() as client:
        live = client.delete(f"/sessions/{theirs}/data", headers=admin_a)
        assert live.status_code == 404, live.text
        assert live.headers["content-type"].startswith("application/problem+json")
        assert _session_rows(api.settings, theirs) == 1  # untouched

        assert client.delete(f"/sessions/{theirs}/data", headers=admin_b).status_code == 200
        assert _session_rows(api.settings, theirs) == 0
        after = client.delete(f"/sessions/{theirs}/data", headers=admin_a)
        assert after.status_code == 404, after.text
        assert "certificate" not in after.json()
        never = client.delete("/sessions/s-never-existed/data", headers=admin_a)
        assert never.status_code == 404
        again = client.delete(f"/sessions/{theirs}/data", headers=admin_b)
        assert again.status_code == 200
        assert again.json()["certificate"]["noop"] is True
