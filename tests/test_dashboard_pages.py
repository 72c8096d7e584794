"""Every dashboard page in AppTest against the generated lakehouse, asserting what it shows.

The expected numbers follow from the rows listed in tests/fixtures/lakehouse.py.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from PIL import Image

from tests.fixtures.lakehouse import STRIP_HEIGHT, metrics, signed_in_app, strip_level


def test_overview_shows_the_institutions_window(lakehouse):
    app = signed_in_app("alice")

    assert app.title[0].value == "Overview"
    # 4 sessions, 9 incidents, 2 failed checks (N2 first try, N3), 3 pending, 2 of 6 dismissed.
    assert metrics(app) == {
        "Sessions": "4",
        "Flags": "9",
        "Failed identity checks": "2",
        "Review backlog": "3",
        "False-flag share": "33.3%",
    }
    per_exam, hourly = (frame.value for frame in app.dataframe)
    assert per_exam.to_dict("list") == {
        "exam_id": ["calc-101", "phys-201"],
        "sessions": [3, 1],
        "flags": [7, 2],
        "pending": [3, 0],
        "false_flag_share": [0.5, 0.0],
    }
    by_hour = {
        (row.hour.strftime("%m-%d %H"), row.incident_type): row.flags for row in hourly.itertuples()
    }
    assert by_hour == {
        ("01-12 09", "face_not_visible"): 2,
        ("01-12 09", "gaze_away"): 3,
        ("01-12 09", "multiple_faces"): 1,
        ("01-12 10", "multiple_faces"): 1,  # N3 started 09:05, flagged 3400 s later
        ("01-13 14", "face_not_visible"): 1,
        ("01-13 14", "multiple_faces"): 1,
    }


def test_overview_narrows_to_one_exam_and_dates(lakehouse):
    app = signed_in_app("alice")
    app.selectbox(key="exam").select("calc-101").run()
    assert metrics(app)["Sessions"] == "3"
    assert metrics(app)["Flags"] == "7"
    assert metrics(app)["False-flag share"] == "50.0%"

    app.selectbox(key="exam").select("All exams").run()
    app.date_input(key="dates").set_value((date(2026, 1, 13), date(2026, 1, 13))).run()
    assert metrics(app) == {
        "Sessions": "1",
        "Flags": "2",
        "Failed identity checks": "0",
        "Review backlog": "0",
        "False-flag share": "0.0%",
    }


def test_another_institution_sees_only_its_own(lakehouse):
    app = signed_in_app("bob")
    # S1-S3: 3 incidents, S2's failed check, S1's multiple_faces pending, 1 of 2 dismissed.
    assert metrics(app) == {
        "Sessions": "3",
        "Flags": "3",
        "Failed identity checks": "1",
        "Review backlog": "1",
        "False-flag share": "50.0%",
    }
    app.switch_page("views/session_review.py").run()
    assert app.selectbox(key="session").options == [
        "S1 · Dan Weiss · hist-110 · 1 pending",
        "S2 · Eve Moreau · hist-110 · 0 pending",
        "S3 · Fay Olsen · hist-110 · 0 pending",
    ]


def test_session_review_shows_timeline_video_frames_actions_identity(lakehouse):
    app = signed_in_app("alice", "views/session_review.py")

    assert app.selectbox(key="session").value == "N1"
    assert metrics(app) == {
        "Student": "s-ana",
        "Exam": "calc-101",
        "Status": "ended",
        "Incidents": "3",
        "Pending": "1",
        "Suppressed": "0",
    }
    assert app.caption[0].value == "Ana Lima · s-ana@students.example · exam on 2026-01-12"
    identity, actions = (frame.value for frame in app.dataframe)
    assert identity["verified"].tolist() == [True]
    assert actions["message"].tolist() == ["Please keep your face in view"]
    incident_lines = [m.value for m in app.markdown if "confidence" in m.value]
    assert incident_lines == [
        "**face_not_visible** · high · confidence 0.80 · 2:00–2:15 · **confirmed**",
        "**multiple_faces** · high · confidence 0.80 · 15:00–15:30 · **confirmed**",
        "**gaze_away** · medium · confidence 0.80 · 50:00–50:10 · **pending**",
    ]

    # The player opens the chunk at the first incident; frames are the incident's own.
    (video,) = app.get("video")
    assert video.proto.start_time == 120
    (gallery,) = app.get("image")
    assert [img.caption for img in gallery.proto.imgs] == [
        "2:00",
        "2:03",
        "2:06",
        "2:09",
        "2:12",
        "2:15",
    ]
    thumbnails = sorted((lakehouse.home / "cache" / "thumbnails" / "N1").glob("*.jpg"))
    for path, second in zip(thumbnails, [120, 123, 126, 129, 132, 135], strict=True):
        picture = np.asarray(Image.open(path).convert("L"), dtype=float)
        strip = picture[-round(STRIP_HEIGHT * 320 / 192) + 6 : -4, 10:-10]
        assert abs(strip.mean() - strip_level(second)) < 3, (path.name, strip.mean())


def test_session_review_jumps_and_says_when_no_recording_covers_it(lakehouse):
    app = signed_in_app("alice", "views/session_review.py")
    app.button(key="jump_N1-multiple_faces-900").click().run()
    assert app.subheader[2].value == "Video at 15:00"
    assert not app.get("video")
    assert "No stored recording covers 15:00." in [i.value for i in app.info]


def test_session_review_deep_link_opens_the_session(lakehouse):
    app = signed_in_app("alice")
    app.query_params["session"] = "N4"
    app.switch_page("views/session_review.py").run()
    assert app.selectbox(key="session").value == "N4"
    assert metrics(app)["Exam"] == "phys-201"
    assert "No identity verification on record for this session." not in [i.value for i in app.info]


def test_detector_quality_shows_precision_per_detector_and_day(lakehouse):
    app = signed_in_app("alice", "views/detector_quality.py")

    assert metrics(app) == {
        "Reviewed incidents": "6",
        "Pending incidents": "3",
        "Overall precision": "66.7%",
    }
    summary, over_time = (frame.value for frame in app.dataframe)
    assert summary.set_index("detector")[["confirmed", "dismissed", "pending"]].to_dict(
        "index"
    ) == {
        "face_not_visible": {"confirmed": 2, "dismissed": 1, "pending": 0},
        "gaze_away": {"confirmed": 0, "dismissed": 1, "pending": 2},
        "multiple_faces": {"confirmed": 2, "dismissed": 0, "pending": 1},
    }
    assert summary.set_index("detector")["precision"].round(3).to_dict() == {
        "face_not_visible": 0.667,
        "gaze_away": 0.0,
        "multiple_faces": 1.0,
    }
    daily = {
        (f"{row.period:%Y-%m-%d}", row.detector): row.precision for row in over_time.itertuples()
    }
    assert daily == {
        ("2026-01-12", "face_not_visible"): 0.5,
        ("2026-01-12", "gaze_away"): 0.0,
        ("2026-01-12", "multiple_faces"): 1.0,
        ("2026-01-13", "face_not_visible"): 1.0,
        ("2026-01-13", "multiple_faces"): 1.0,
    }

    app.selectbox(key="grain").select("month").run()
    monthly = app.dataframe[1].value
    assert monthly.set_index("detector")["precision"].round(3).to_dict() == {
        "face_not_visible": 0.667,
        "gaze_away": 0.0,
        "multiple_faces": 1.0,
    }


def test_erasure_requests_show_status_and_check_certificates(lakehouse):
    app = signed_in_app("alice", "views/erasure_requests.py")

    assert metrics(app) == {
        "Requests": "3",
        "Completed": "2",
        "Pending": "1",
        "Invalid certificates": "1",
    }
    table = app.dataframe[0].value.set_index("request_id")
    assert table["status"].to_dict() == {
        "E-N3": "completed",
        "E-N2": "pending",
        "E-N1": "completed",
    }
    assert table["certificate"].to_dict() == {"E-N3": "INVALID", "E-N2": "none", "E-N1": "valid"}
    # Newest first: E-N3, whose certificate was altered after signing.
    assert "does NOT match" in app.error[0].value

    app.selectbox(key="request").select("E-N1").run()
    assert app.success[0].value.startswith("Signature valid")
    assert app.json[0].value  # the certificate body is shown

    app.selectbox(key="request").select("E-N2").run()
    assert app.info[0].value == "No certificate yet: the erasure has not completed."
