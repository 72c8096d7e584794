"""Session reports: every incident with a link that opens the recording at that second.

A real-face recording is ingested (10 s chunks) into a real lake; incidents, an identity
record and proctor actions are written as Delta rows the way their writers do. The report is
read through the CLI function (local file links, and S3 pre-signed links on a real S3 server
on loopback, fetched back) and through the real API under uvicorn with real tokens.
"""

import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from proctorlake.core import schemas
from proctorlake.core.settings import Settings, load_settings
from proctorlake.services.reports import ReportSessionUnknown, build_report, render_report
from proctorlake.storage import lake
from realtime.api.auth import issue_token
from tests.fixtures.batch_media import ingest, present_then_absent, render_webcam
from tests.fixtures.realtime import bearer

pytestmark = pytest.mark.slow

SESSION = "rep-1"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def seed_session(settings: Settings, tmp_path: Path, institution_id: str = "uni-a") -> None:
    webcam = render_webcam(tmp_path / "exam.mp4", present_then_absent(30, 8, 12))
    ingest(settings, SESSION, webcam, institution_id=institution_id)
    day = NOW.date().isoformat()
    incident = {
        "session_id": SESSION,
        "institution_id": institution_id,
        "severity": "high",
        "confidence": 0.9,
        "source": "batch",
        "session_date": day,
    }
    lake.merge_rows(
        settings,
        schemas.INCIDENTS,
        [
            incident
            | {
                "incident_id": "i-absent",
                "incident_type": "face_not_visible",
                "start_s": 8.0,
                "end_s": 20.0,
                "reviewed_by": "proctor-7",
                "resolution": "confirmed",
                "reviewed_at": NOW,
            },
            incident
            | {
                "incident_id": "i-second",
                "incident_type": "multiple_faces",
                "start_s": 25.0,
                "end_s": 28.0,
            },
        ],
        ["incident_id"],
    )
    lake.append_rows(
        settings,
        schemas.IDENTITY_VERIFICATIONS,
        [
            {
                "record_id": "idv-1",
                "session_id": SESSION,
                "institution_id": institution_id,
                "verified": True,
                "similarity_score": 0.93,
                "liveness": "passed",
                "signature": "sig",
                "verified_at": NOW - dt.timedelta(minutes=5),
                "month": "2026-03",
            }
        ],
    )
    lake.append_rows(
        settings,
        schemas.PROCTOR_ACTIONS,
        [
            {
                "action_id": "a-1",
                "session_id": SESSION,
                "institution_id": institution_id,
                "proctor_id": "proctor-7",
                "action_type": "message",
                "message": "Please stay in view of the camera",
                "created_at": NOW,
                "session_date": day,
            }
        ],
    )


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "10")


def test_report_links_open_the_recording_at_the_incident(
    settings: Settings, chunked, tmp_path: Path
) -> None:
    settings = load_settings()
    seed_session(settings, tmp_path)

    report = build_report(settings, SESSION)
    absent, second = report["incidents"]
    assert (absent["incident_type"], absent["start_s"], absent["end_s"]) == (
        "face_not_visible",
        8.0,
        20.0,
    )
    # 8 s lies in the first 10 s chunk; 25 s is 5 s into the third.
    assert absent["video"]["key"] == f"sessions/{SESSION}/webcam/000000000000.mp4"
    assert absent["video"]["url"].endswith("#t=8.0")
    assert second["video"]["key"] == f"sessions/{SESSION}/webcam/000000020000.mp4"
    assert second["video"]["url"].endswith("#t=5.0")
    path = Path(second["video"]["url"].removeprefix("file://").split("#")[0])
    assert path.read_bytes()[4:8] == b"ftyp"  # the link opens a real MP4
    assert absent["review"] == {
        "outcome": "confirmed",
        "reviewed_by": "proctor-7",
        "reviewed_at": NOW.isoformat(),
    }
    assert second["review"]["outcome"] == "pending"
    assert [v["record_id"] for v in report["identity_verifications"]] == ["idv-1"]
    assert report["identity_verifications"][0]["verified"] is True
    assert [a["action_type"] for a in report["proctor_actions"]] == ["message"]

    parsed = json.loads(render_report(settings, SESSION, "json"))
    assert [i["incident_id"] for i in parsed["incidents"]] == ["i-absent", "i-second"]
    page = render_report(settings, SESSION, "html")
    assert second["video"]["url"] in page.replace("&amp;", "&") and "confirmed" in page
    assert "multiple_faces" in render_report(settings, SESSION, "text")
    with pytest.raises(ReportSessionUnknown):
        build_report(settings, "nobody")
    with pytest.raises(ValueError, match="format"):
        render_report(settings, SESSION, "pdf")


def test_report_links_on_s3_are_presigned_and_expire(
    s3_settings: Settings, chunked, tmp_path: Path
) -> None:
    settings = load_settings()
    seed_session(settings, tmp_path)
    report = build_report(settings, SESSION, link_expires_s=600)
    video = report["incidents"][1]["video"]
    assert video["expires_s"] == 600
    url, fragment = video["url"].split("#")
    assert fragment == "t=5.0"
    query = parse_qs(urlsplit(url).query)
    assert "Signature" in query or "X-Amz-Signature" in query
    expires_at = int(query["Expires"][0])  # boto3 signs the expiry into the link
    assert abs(expires_at - (time.time() + 600)) < 60
    fetched = httpx.get(url, timeout=30)
    assert fetched.status_code == 200 and fetched.content[4:8] == b"ftyp"
    # (moto's server does not verify signatures, so tampering is not tested here.)


def test_report_api_for_staff_of_the_institution(realtime_api, chunked, tmp_path: Path) -> None:
    settings = load_settings()
    seed_session(settings, tmp_path)
    url = f"/sessions/{SESSION}/report"
    proctor = issue_token(settings, "proctor-7", "proctor", "uni-a")
    with realtime_api.client() as client:
        response = client.get(url, headers=bearer(proctor))
        assert response.status_code == 200, response.text
        body = response.json()
        assert [i["incident_id"] for i in body["incidents"]] == ["i-absent", "i-second"]
        assert body["incidents"][1]["video"]["url"].endswith("#t=5.0")
        assert body["identity_verifications"][0]["similarity_score"] == 0.93

        page = client.get(url, params={"format": "html"}, headers=bearer(proctor))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "watch at 25 s" in page.text

        other = issue_token(settings, "proctor-9", "proctor", "uni-b")
        assert client.get(url, headers=bearer(other)).status_code == 403
        student = issue_token(settings, "stu-rep-1", "student", "uni-a", session_id=SESSION)
        assert client.get(url, headers=bearer(student)).status_code == 403
        assert client.get(url).status_code == 401
        missing = client.get("/sessions/nobody/report", headers=bearer(proctor))
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
