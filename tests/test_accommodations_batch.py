"""Accommodations on the batch path, on real Spark/Delta and a real-face recording.

Three students sit the same recording (present, head turned away for 10 s, present): the
one without accommodations gets a ``gaze_away`` flag; the one exempt from gaze gets none,
and neither does the one who took an approved break over the turn. Their flags are counted
in ``suppressed_incidents`` with the reason, and the session review page shows the count.
Erasing the exempt student deletes their accommodation with the rest of their data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.compute as pc
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import admins
from proctorlake.core.accommodations import Accommodation
from proctorlake.core.settings import Settings, load_settings
from proctorlake.governance.erasure.runner import erase
from proctorlake.samples.webcam import Segment, WebcamScript
from proctorlake.services import accommodations
from proctorlake.storage import lake
from spark_jobs.analyze_sessions import analyze_sessions
from tests.fixtures.batch_media import ingest, render_webcam
from tests.fixtures.lakehouse import DASHBOARD_HOME, metrics, sign_in_form

pytestmark = pytest.mark.slow

TURN_FROM_S, TURN_S = 11, 8


@pytest.fixture
def chunked_settings(proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "30")  # one chunk per session
    monkeypatch.setenv("PROCTORLAKE_STORAGE", "local")
    monkeypatch.delenv("PROCTORLAKE_ADMIN_USERS", raising=False)
    return load_settings()


def _rows(settings: Settings, table: str, session_id: str) -> list[tuple[str, str]]:
    rows = lake.read_table(settings, table).filter(pc.field("session_id") == session_id)
    reason = "reason" if table == "suppressed_incidents" else "severity"
    return sorted((r["incident_type"], r[reason]) for r in rows.to_pylist())


def test_exempt_and_resting_students_get_no_gaze_flag_and_the_count_shows(
    spark, chunked_settings: Settings, tmp_path: Path
) -> None:
    settings = chunked_settings
    script = WebcamScript(
        (
            Segment("present", TURN_FROM_S),
            Segment("turned", TURN_S, yaw_deg=-55),
            Segment("present", 5),
        ),
        "grace_hopper",
        "astronaut",
        background_seed=1,
    )
    webcam = render_webcam(tmp_path / "webcam.mp4", script)
    for session_id in ("plain", "exempt", "resting"):
        ingest(settings, session_id, webcam)  # students stu-<session>, exam-1, uni-a
    accommodations.set_accommodation(
        settings, "uni-a", "exam-1", "stu-exempt", Accommodation(("gaze_away",)), "admin-ada"
    )
    one_break = Accommodation(breaks_allowed=1, break_max_s=120)
    accommodations.set_accommodation(
        settings, "uni-a", "exam-1", "stu-resting", one_break, "admin-ada"
    )
    sessions = lake.read_table(settings, "exam_sessions").to_pylist()
    started = next(s["started_at"] for s in sessions if s["session_id"] == "resting")
    accommodations.start_break(
        settings, "resting", "uni-a", one_break, at=started + dt.timedelta(seconds=TURN_FROM_S - 1)
    )
    with pytest.raises(accommodations.BreakRefused):  # one at a time, and only one allowed
        accommodations.start_break(settings, "resting", "uni-a", one_break)
    accommodations.end_break(
        settings, "resting", at=started + dt.timedelta(seconds=TURN_FROM_S + TURN_S + 2)
    )

    analyze_sessions(spark, settings, ["plain", "exempt", "resting"])

    plain = _rows(settings, "incidents", "plain")
    assert [t for t, _ in plain] == ["gaze_away"], plain
    assert _rows(settings, "incidents", "exempt") == []
    assert _rows(settings, "incidents", "resting") == []
    assert _rows(settings, "suppressed_incidents", "plain") == []
    assert _rows(settings, "suppressed_incidents", "exempt") == [("gaze_away", "exempt")]
    assert _rows(settings, "suppressed_incidents", "resting") == [("gaze_away", "break")]

    admins.add_account(settings, "ada", "uni-a", "ada-secret")
    app = AppTest.from_file(str(DASHBOARD_HOME), default_timeout=60).run()
    sign_in_form(app, "ada", "ada-secret")
    app.switch_page("views/session_review.py").run()
    app.selectbox(key="session").set_value("exempt").run()
    assert not app.exception, app.exception
    assert metrics(app)["Suppressed"] == "1"
    assert metrics(app)["Incidents"] == "0"
    assert any("gaze_away ×1 (exempt" in c.value for c in app.caption)
    app.selectbox(key="session").set_value("plain").run()
    assert metrics(app)["Suppressed"] == "0"
    assert metrics(app)["Incidents"] == "1"

    erase(settings, "stu-exempt")
    assert accommodations.accommodation_history(settings, "uni-a", "exam-1", "stu-exempt") == []
    assert _rows(settings, "suppressed_incidents", "exempt") == []
    kept = accommodations.current_accommodation(settings, "uni-a", "exam-1", "stu-resting")
    assert kept == one_break
