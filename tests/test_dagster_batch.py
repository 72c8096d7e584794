"""The post-exam analysis through Dagster, in-process on real Spark/Delta and real faces.

- a session with both tracks goes bronze -> silver -> gold -> report, every check passing;
  re-running the partition leaves every row count identical and analyses no chunk again;
- a session with a corrupt chunk fails only its own partition, naming the chunk (its batch's
  run fails, and its sessions are run again one per run);
- sessions analysed together run once over their partition range: one Spark job, each
  session still materialized (and checked) as its own partition;
- a blocking check that fails (incidents of a session that no longer exists) stops the
  session report downstream, and the failure is recorded on the instance the UI reads.
"""

from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance
from deltalake import DeltaTable

from dagster_project.runs import analyze_in_dagster, materialize_session
from proctorlake.core.settings import Settings, load_settings
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from tests.fixtures.batch_media import ingest, present_then_absent, render_screen, render_webcam

pytestmark = pytest.mark.slow

CHUNK_SECONDS = 10


@pytest.fixture
def chunked_settings(proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", str(CHUNK_SECONDS))
    return load_settings()


def counts(settings: Settings, session_id: str) -> dict[str, int]:
    db = lake.duckdb_connection(settings)
    return {
        table: db.execute(
            f"select count(*) from {table} where session_id = ?", [session_id]
        ).fetchone()[0]
        for table in ("media_chunks", "detection_events", "incidents", "session_reports")
    }


def test_sessions_through_dagster(spark, chunked_settings: Settings, tmp_path: Path) -> None:
    settings = chunked_settings
    script = present_then_absent(30, 8, 12)
    webcam = render_webcam(tmp_path / "webcam.mp4", script)
    ingest(settings, "good-1", webcam, render_screen(tmp_path / "screen.mp4", 30))
    ingest(settings, "corrupt-1", webcam)
    store = open_object_store(settings)
    bad_key = "sessions/corrupt-1/webcam/000000010000.mp4"
    store.put_bytes(bad_key, b"not a video at all")
    instance = DagsterInstance.ephemeral()

    said: list[str] = []
    runs = analyze_in_dagster(settings, ["good-1", "corrupt-1"], instance, said.append)
    good, corrupt = runs
    assert good.success, good.error
    assert any("of 2 sessions failed" in line for line in said), said
    assert good.run_id != corrupt.run_id  # run again one per run
    assert good.checks == {
        "media_chunks_quality": True,
        "detection_events_quality": True,
        "incidents_quality": True,
        "session_reports_quality": True,
    }
    assert not corrupt.success
    assert bad_key in corrupt.error and "detection_events" in corrupt.error
    assert "silver/detection_events" in corrupt.skipped

    incidents = (
        lake.duckdb_connection(settings)
        .execute(
            "select incident_type, start_s, end_s from incidents where session_id = 'good-1' "
            "order by start_s"
        )
        .fetchall()
    )
    types = [i[0] for i in incidents]
    assert "face_not_visible" in types and "unauthorized_app" in types
    absent = next(i for i in incidents if i[0] == "face_not_visible")
    assert absent[1] == pytest.approx(8, abs=2) and absent[2] == pytest.approx(20, abs=2)
    report = (
        lake.duckdb_connection(settings)
        .execute(
            "select incidents, risk_score, verification_outcome, chunks from session_reports "
            "where session_id = 'good-1'"
        )
        .fetchone()
    )
    assert report[0] == len(incidents) and 0 < report[1] <= 100
    assert report[2] == "not_verified" and report[3] == 6  # 3 webcam + 3 screen chunks
    daily = lake.read_table(settings, "institution_daily").to_pylist()
    assert [(d["institution_id"], d["sessions"]) for d in daily] == [("uni-a", 1)]
    # Nothing of the corrupt session reached silver or gold.
    assert counts(settings, "corrupt-1")["detection_events"] == 0

    before = counts(settings, "good-1")
    again = materialize_session(settings, "good-1", instance)
    assert again.success and counts(settings, "good-1") == before
    detection = instance.get_latest_materialization_event(
        AssetKey(["silver", "detection_events"])
    ).asset_materialization
    assert detection.metadata["detected_chunks"].value == 0
    assert detection.metadata["reused_chunks"].value == 6


def test_sessions_of_a_window_share_one_run(
    spark, chunked_settings: Settings, tmp_path: Path
) -> None:
    settings = chunked_settings
    webcam = render_webcam(tmp_path / "webcam.mp4", present_then_absent(20, 8, 8))
    sessions = ["batch-1", "batch-2", "batch-3"]
    for session_id in sessions:
        ingest(settings, session_id, webcam)
    instance = DagsterInstance.ephemeral()

    runs = analyze_in_dagster(settings, sessions, instance)

    assert [r.session_id for r in runs] == sessions
    assert all(r.success for r in runs), [r.error for r in runs]
    assert len({r.run_id for r in runs}) == 1
    assert all(set(r.checks.values()) == {True} and len(r.checks) == 4 for r in runs)
    for asset in (
        ["bronze", "media_chunks"],
        ["silver", "detection_events"],
        ["gold", "incidents"],
        ["gold", "session_reports"],
    ):
        assert instance.get_materialized_partitions(AssetKey(asset)) == set(sessions)
    rows = [counts(settings, sid) for sid in sessions]
    assert rows[0]["detection_events"] == 20 and rows[0]["session_reports"] == 1
    assert rows[1] == rows[0] and rows[2] == rows[0]  # the same recording, the same rows
    absent = (
        lake.duckdb_connection(settings)
        .execute(
            "select session_id, start_s from incidents where incident_type = 'face_not_visible' "
            "order by session_id"
        )
        .fetchall()
    )
    assert [sid for sid, _ in absent] == sessions
    assert all(start == pytest.approx(8, abs=2) for _, start in absent)


def test_failing_blocking_check_stops_downstream(
    spark, chunked_settings: Settings, tmp_path: Path
) -> None:
    settings = chunked_settings
    ingest(settings, "orphan-1", render_webcam(tmp_path / "w.mp4", present_then_absent(30, 8, 12)))
    # The session row is lost (e.g. a faulty manual delete): its incidents become orphans.
    sessions = DeltaTable(lake.delta_uri(settings, "exam_sessions"))
    sessions.delete("session_id = 'orphan-1'")
    instance = DagsterInstance.ephemeral()

    run = materialize_session(settings, "orphan-1", instance)
    assert not run.success
    assert run.checks["incidents_quality"] is False
    assert run.checks["detection_events_quality"] is True
    assert "gold/session_reports" in run.skipped
    assert counts(settings, "orphan-1")["session_reports"] == 0
    key = AssetCheckKey(AssetKey(["gold", "incidents"]), "incidents_quality")
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    assert record.status.value == "FAILED"  # stored where the UI reads check results
