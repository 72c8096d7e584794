"""Schedules: nightly table upkeep, hourly institution statistics."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from dagster_project.jobs import institution_daily_job, maintain_tables_job

maintain_tables_schedule = ScheduleDefinition(
    job=maintain_tables_job,
    cron_schedule="30 2 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compact and Z-order every Delta table at night, after the day's exams.",
)

institution_daily_schedule = ScheduleDefinition(
    job=institution_daily_job,
    cron_schedule="15 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Refresh institution_daily from the session reports every hour.",
)
