"""The daily retention run: purge expired, un-held sessions (logic in
``proctorlake.governance.retention``).

Each purge is a GDPR erasure of the session, so the schedule adds no second way to delete;
what it removed lands in ``retention_log`` and each erasure's certificate in ``erasure_log``.
"""

from dagster import (
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from dagster_project.resources import ProctorLakeResource
from proctorlake.governance.retention import run_retention


@op(description="Purge every session past its institution's retention period and not held.")
def purge_expired_sessions(
    context: OpExecutionContext, proctorlake: ProctorLakeResource
) -> Output[dict]:
    report = run_retention(proctorlake.settings(), progress=context.log.info)
    if report.failed:
        raise RuntimeError(f"retention could not purge {report.failed}")
    summary = {
        "purged": len(report.purged),
        "resumed": len(report.resumed),
        "held": len(report.held),
    }
    return Output(
        report.to_json(),
        metadata={
            **{k: MetadataValue.int(v) for k, v in summary.items()},
            "run_id": MetadataValue.text(report.run_id),
        },
    )


@job(description="Retention: expired, un-held sessions erased; retention_log records each.")
def retention_job() -> None:
    purge_expired_sessions()


retention_schedule = ScheduleDefinition(
    job=retention_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every night at 03:30 UTC, outside exam hours of most institutions.",
)
