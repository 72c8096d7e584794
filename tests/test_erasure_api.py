"""``DELETE /sessions/{id}/data`` over real HTTP: who may erase, the certificate, a no-op repeat."""

from __future__ import annotations

import av  # noqa: F401  (imported before anything that may import decord)
import numpy as np
import pytest

from proctorlake.governance.erasure.certificate import Certificate, verify_certificate
from proctorlake.storage import lake
from proctorlake.storage.object_store import manifest_key, open_object_store
from proctorlake.storage.video import write_video
from tests.fixtures.realtime import bearer, jpeg_bytes

pytestmark = pytest.mark.slow


def test_admin_erases_a_session_and_gets_a_signed_certificate(realtime_api, tmp_path) -> None:
    api = realtime_api
    session = api.create_session("inst-a")
    session_id = session["session_id"]
    with api.client() as client:
        stored = client.post(
            session["endpoints"]["webcam_frames"],
            content=jpeg_bytes(),
            headers=bearer(session["token"]) | {"Content-Type": "image/jpeg"},
        )
        assert stored.status_code == 202, stored.text
        frames = [np.full((32, 32, 3), 128, np.uint8)] * 3
        segment = write_video(tmp_path / "seg.webm", frames, 5, codec="libvpx").read_bytes()
        client.post(
            session["endpoints"]["webcam_chunks"],
            params={"chunk_start_ms": 0, "chunk_end_ms": 1000},
            content=segment,
            headers=bearer(session["token"]) | {"Content-Type": "video/webm"},
        )
        store = open_object_store(api.settings)
        assert store.exists(manifest_key(session_id))

        url = f"/sessions/{session_id}/data"
        proctor = client.delete(url, headers=bearer(api.staff_token("inst-a", "proctor")))
        assert proctor.status_code == 403
        other = client.delete(url, headers=bearer(api.staff_token("inst-b", "admin")))
        assert other.status_code == 404  # not one of inst-b's sessions: not found for it
        student = client.delete(url, headers=bearer(session["token"]))
        assert student.status_code == 403
        assert store.exists(manifest_key(session_id))  # refused requests touched nothing

        admin = bearer(api.staff_token("inst-a", "admin"))
        erased = client.delete(url, headers=admin)
        assert erased.status_code == 200, erased.text
        body = erased.json()
        certificate = Certificate(body["certificate"], body["signature"], body["public_key"])
        assert verify_certificate(certificate, api.settings)
        assert body["certificate"]["noop"] is False
        assert session_id in body["certificate"]["session_ids"]
        assert not list(store.list(f"sessions/{session_id}/"))
        rows = lake.duckdb_connection(api.settings).execute(
            "select count(*) from exam_sessions where session_id = ?", [session_id]
        )
        assert rows.fetchone()[0] == 0

        again = client.delete(url, headers=admin)
        assert again.status_code == 200, again.text
        assert again.json()["certificate"]["noop"] is True
        unknown = client.delete("/sessions/s-does-not-exist/data", headers=admin)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
