"""The spine end to end: a real-face recording -> ingest -> Spark analysis -> Delta incidents."""

from __future__ import annotations

import pytest

from proctorlake.core.settings import Settings
from proctorlake.samples.webcam import demo_exam_script, make_webcam_recording
from proctorlake.services.ingest import SessionIdentity, ingest_recording
from proctorlake.storage import lake
from spark_jobs.analyze_sessions import analyze_sessions

pytestmark = pytest.mark.slow

TOLERANCE_S = 2.0


@pytest.fixture(scope="module")
def demo_recording(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("rec") / "exam.webm"
    truth = make_webcam_recording(path, demo_exam_script(80.0, seed=3), seed=3, codec="libvpx")
    return path, truth


def test_recording_is_analysed_into_incidents_with_timestamps(
    spark, settings: Settings, demo_recording
) -> None:
    path, truth = demo_recording
    identity = SessionIdentity("e2e-1", "stu-e2e", "exam-1", "uni-a")
    ingest_recording(settings, identity, path)

    result = analyze_sessions(spark, settings, ["e2e-1"])
    assert result.chunks == 1
    assert result.detection_rows == pytest.approx(80, abs=1)

    incidents = sorted(
        lake.read_table(settings, "incidents").to_pylist(), key=lambda r: r["start_s"]
    )
    expected = sorted(truth.events, key=lambda e: e.start_s)
    assert [i["incident_type"] for i in incidents] == [e.type for e in expected]
    for incident, event in zip(incidents, expected, strict=True):
        assert incident["start_s"] == pytest.approx(event.start_s, abs=TOLERANCE_S)
        assert incident["end_s"] == pytest.approx(event.end_s, abs=TOLERANCE_S)
        assert incident["started_at"] is not None
        assert incident["session_id"] == "e2e-1" and incident["source"] == "batch"

    # Re-running the session replaces its rows: counts are identical, never doubled.
    again = analyze_sessions(spark, settings, ["e2e-1"])
    assert again.detection_rows == result.detection_rows
    assert lake.read_table(settings, "incidents").num_rows == len(incidents)

    # Analysts see the same through DuckDB.
    counts = dict(
        lake.duckdb_connection(settings)
        .execute("select detection_type, count(*) from detection_events group by 1")
        .fetchall()
    )
    assert counts == {"webcam_frame": result.detection_rows}
