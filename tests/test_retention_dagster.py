"""The retention job in-process through Dagster, as the nightly schedule launches it."""

from __future__ import annotations

from dagster import Definitions

from dagster_project.resources import ProctorLakeResource
from dagster_project.retention import retention_job, retention_schedule
from proctorlake.core.settings import Settings
from proctorlake.storage import lake


def test_the_scheduled_job_purges_expired_sessions(
    settings: Settings, aged_session_factory
) -> None:
    aged_session_factory(settings, "dg-old", "uni-a", 900)
    aged_session_factory(settings, "dg-young", "uni-a", 3)
    defs = Definitions(
        jobs=[retention_job],
        schedules=[retention_schedule],
        resources={"proctorlake": ProctorLakeResource(home=str(settings.home))},
    )
    job = defs.get_job_def("retention_job")

    result = job.execute_in_process()

    assert result.success
    report = result.output_for_node("purge_expired_sessions")
    assert [p["session_id"] for p in report["purged"]] == ["dg-old"]
    sessions = lake.read_table(settings, "exam_sessions").column("session_id").to_pylist()
    assert sessions == ["dg-young"]
    assert retention_schedule.cron_schedule == "30 3 * * *"
    assert job.execute_in_process().output_for_node("purge_expired_sessions")["purged"] == []
