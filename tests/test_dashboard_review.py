"""Reviewers' decisions are written back to Delta, audited, and the pages notice at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pytest

from dashboards import lakehouse as dashboard_lake
from proctorlake.core import schemas
from proctorlake.services import reviews
from proctorlake.storage import lake
from tests.fixtures.lakehouse import metrics, signed_in_app

PENDING = "N1-gaze_away-3000"


def _incidents_by_id(settings) -> dict[str, dict]:
    return {row["incident_id"]: row for row in lake.read_table(settings, "incidents").to_pylist()}


def test_dismissal_in_the_page_is_written_back_and_audited(lakehouse):
    settings = lakehouse.settings
    before = _incidents_by_id(settings)
    version_before = lake.open_table(settings, "incidents").version()
    app = signed_in_app("alice", "views/session_review.py")
    assert metrics(app)["Pending"] == "1"

    clicked_at = datetime.now(UTC)
    app.button(key=f"dismiss_{PENDING}").click().run()

    assert not app.exception
    assert app.success[0].value == f"Incident {PENDING} dismissed."
    assert metrics(app)["Pending"] == "0"
    assert "**gaze_away** · medium · confidence 0.80 · 50:00–50:10 · **dismissed**" in [
        m.value for m in app.markdown
    ]

    # One MERGE on the incidents table: only that row changed, and in the review columns only.
    assert lake.open_table(settings, "incidents").version() == version_before + 1
    after = _incidents_by_id(settings)
    assert after.keys() == before.keys()
    changed = after.pop(PENDING)
    assert changed["resolution"] == "dismissed"
    assert changed["reviewed_by"] == "alice"
    assert clicked_at - timedelta(seconds=1) <= changed["reviewed_at"] <= datetime.now(UTC)
    unchanged_columns = {k: v for k, v in changed.items() if not k.startswith(("resol", "review"))}
    assert unchanged_columns == {
        k: v for k, v in before[PENDING].items() if not k.startswith(("resol", "review"))
    }
    assert after == {k: v for k, v in before.items() if k != PENDING}

    audit = lake.read_table(settings, "proctor_actions").filter(pc.field("action_type") == "review")
    (action,) = audit.to_pylist()
    assert action["proctor_id"] == "alice"
    assert action["session_id"] == "N1"
    assert action["institution_id"] == "uni-north"
    assert action["created_at"] == changed["reviewed_at"]
    assert json.loads(action["message"]) == {"incident_id": PENDING, "resolution": "dismissed"}

    # The overview reads the new table version: backlog 3 -> 2, dismissed 2 -> 3 of 7 reviewed.
    app.switch_page("views/overview.py").run()
    assert metrics(app)["Review backlog"] == "2"
    assert metrics(app)["False-flag share"] == "42.9%"


def test_a_decision_can_be_changed_and_each_one_is_audited(lakehouse):
    app = signed_in_app("alice", "views/session_review.py")
    app.button(key=f"confirm_{PENDING}").click().run()
    app.button(key=f"dismiss_{PENDING}").click().run()

    assert _incidents_by_id(lakehouse.settings)[PENDING]["resolution"] == "dismissed"
    reviews = lake.read_table(lakehouse.settings, "proctor_actions").filter(
        pc.field("action_type") == "review"
    )
    in_order = sorted(reviews.to_pylist(), key=lambda action: action["created_at"])
    assert [json.loads(a["message"])["resolution"] for a in in_order] == [
        "confirmed",
        "dismissed",
    ]


@pytest.mark.parametrize(
    ("institution", "incident", "resolution", "message"),
    [
        ("uni-south", PENDING, "dismissed", "no incident"),  # another institution's incident
        ("uni-north", "N1-nothing-1", "dismissed", "no incident"),
        ("uni-north", PENDING, "maybe", "resolution must be one of"),
    ],
)
def test_refused_reviews_touch_nothing(lakehouse, institution, incident, resolution, message):
    versions = dashboard_lake.table_versions(lakehouse.settings)
    with pytest.raises(reviews.ReviewError, match=message):
        reviews.record_review(lakehouse.settings, institution, incident, resolution, "bob")
    assert dashboard_lake.table_versions(lakehouse.settings) == versions


def test_cached_reads_follow_the_table_version(lakehouse):
    settings = lakehouse.settings
    first, version = dashboard_lake.current_dataset(settings, "proctor_actions")
    again, same_version = dashboard_lake.current_dataset(settings, "proctor_actions")
    assert again is first and same_version == version  # no re-open while nothing changed

    lake.append_rows(
        settings,
        schemas.PROCTOR_ACTIONS,
        [
            {
                "action_id": "act-new",
                "session_id": "N3",
                "institution_id": "uni-north",
                "proctor_id": "p-7",
                "action_type": "message",
                "message": "new",
                "created_at": datetime(2026, 1, 12, 9, 40, tzinfo=UTC),
                "session_date": "2026-01-12",
            }
        ],
    )
    fresh, new_version = dashboard_lake.current_dataset(settings, "proctor_actions")
    assert new_version == version + 1
    assert fresh.count_rows() == first.count_rows() + 1
    assert "act-new" in fresh.to_table(columns=["action_id"]).column("action_id").to_pylist()


def _stream_incident(incident_id: str, session_id: str, start_s: float) -> dict:
    """The landed row of a realtime incident, as the topic lander writes it (still pending)."""
    return {
        "incident_id": incident_id,
        "session_id": session_id,
        "institution_id": "uni-north",
        "incident_type": "gaze_away",
        "severity": "medium",
        "confidence": 0.7,
        "start_s": start_s,
        "end_s": start_s + 8.0,
        "state": "closed",
        "review_status": "pending",
        "event_at": datetime(2026, 1, 12, 9, 50, tzinfo=UTC),
        "session_date": "2026-01-12",
    }


def _stream_status(settings) -> dict[str, str]:
    rows = lake.read_table(settings, "stream_incidents").to_pylist()
    return {row["incident_id"]: row["review_status"] for row in rows}


def test_a_dashboard_review_reaches_the_stream_row_gold_row_and_audit_trail(lakehouse):
    settings = lakehouse.settings
    lake.append_rows(
        settings,
        schemas.STREAM_INCIDENTS,
        [
            _stream_incident(PENDING, "N1", 3000.0),
            _stream_incident("N2-gaze_away-2400", "N2", 2400),
        ],
    )
    app = signed_in_app("alice", "views/session_review.py")
    app.button(key=f"confirm_{PENDING}").click().run()

    assert not app.exception
    assert _stream_status(settings) == {PENDING: "confirmed", "N2-gaze_away-2400": "pending"}
    gold = _incidents_by_id(settings)[PENDING]
    assert (gold["resolution"], gold["reviewed_by"], gold["source"]) == (
        "confirmed",
        "alice",
        "batch",
    )
    (action,) = (
        lake.read_table(settings, "proctor_actions")
        .filter(pc.field("action_type") == "review")
        .to_pylist()
    )
    assert (action["proctor_id"], action["session_id"]) == ("alice", "N1")
    assert action["created_at"] == gold["reviewed_at"]
    assert action["session_date"] == "2026-01-12"  # beside the session's rows, not today's
    assert json.loads(action["message"]) == {"incident_id": PENDING, "resolution": "confirmed"}


def test_a_realtime_incident_the_batch_has_not_seen_gets_its_gold_row_with_the_review(lakehouse):
    settings = lakehouse.settings
    live_only = "N3-gaze_away-100"
    lake.append_rows(settings, schemas.STREAM_INCIDENTS, [_stream_incident(live_only, "N3", 100.0)])
    assert live_only not in _incidents_by_id(settings)

    recorded = reviews.record_review(settings, "uni-north", live_only, "dismissed", "alice")

    assert (recorded.in_batch, recorded.in_stream, recorded.session_id) == (False, True, "N3")
    gold = _incidents_by_id(settings)[live_only]
    assert (gold["source"], gold["resolution"], gold["reviewed_by"]) == (
        "stream",
        "dismissed",
        "alice",
    )
    assert (gold["start_s"], gold["end_s"], gold["severity"]) == (100.0, 108.0, "medium")
    assert _stream_status(settings)[live_only] == "dismissed"
    # Another institution cannot review it, and a wrong session id does not reach it either.
    with pytest.raises(reviews.IncidentNotFound):
        reviews.record_review(settings, "uni-south", live_only, "confirmed", "bob")
    with pytest.raises(reviews.IncidentNotFound):
        reviews.record_review(
            settings, "uni-north", live_only, "confirmed", "alice", session_id="N1"
        )
    assert _stream_status(settings)[live_only] == "dismissed"
