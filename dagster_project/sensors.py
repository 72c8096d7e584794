"""The sensor that turns ended sessions into analysis runs (one dynamic partition each)."""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from dagster_project.jobs import analyze_session_job
from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from proctorlake.storage import lake


def ended_sessions(proctorlake: ProctorLakeResource) -> list[str]:
    """Sessions that ended (CLI ingest or the realtime path): their recording is complete."""
    settings = proctorlake.settings()
    rows = (
        lake.duckdb_connection(settings)
        .execute(
            "select distinct session_id from exam_sessions "
            "where status in ('ended', 'terminated') order by 1"
        )
        .fetchall()
    )
    return [r[0] for r in rows]


@sensor(
    job=analyze_session_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds a partition and requests an analysis run for every newly ended session.",
)
def ended_sessions_sensor(
    context: SensorEvaluationContext, proctorlake: ProctorLakeResource
) -> SensorResult:
    known = set(context.instance.get_dynamic_partitions(session_partitions.name))
    new = [s for s in ended_sessions(proctorlake) if s not in known]
    return SensorResult(
        run_requests=[RunRequest(partition_key=s, run_key=f"analyze-{s}") for s in new],
        dynamic_partitions_requests=[session_partitions.build_add_request(new)] if new else [],
    )
