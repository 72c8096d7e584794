"""The single entry point of the Dagster code location (see workspace.yaml).

Resources come from settings: ``PROCTORLAKE_STORAGE`` picks local folders or S3 and
``PROCTORLAKE_SPARK_MASTER`` local Spark or a cluster; nothing here changes per deployment.
"""

from dagster import Definitions, load_assets_from_modules

from dagster_project.assets import analysis, reports
from dagster_project.checks import quality_checks
from dagster_project.erased_partitions import erased_partitions_sensor
from dagster_project.erasure_job import erasure_job
from dagster_project.jobs import analyze_session_job, institution_daily_job, maintain_tables_job
from dagster_project.resources import ProctorLakeResource
from dagster_project.retention import retention_job, retention_schedule
from dagster_project.schedules import institution_daily_schedule, maintain_tables_schedule
from dagster_project.sensors import ended_sessions_sensor, split_failed_batch_sensor

defs = Definitions(
    assets=load_assets_from_modules([analysis, reports]),
    asset_checks=quality_checks,
    jobs=[
        analyze_session_job,
        institution_daily_job,
        maintain_tables_job,
        erasure_job,
        retention_job,
    ],
    schedules=[maintain_tables_schedule, institution_daily_schedule, retention_schedule],
    sensors=[ended_sessions_sensor, split_failed_batch_sensor, erased_partitions_sensor],
    resources={"proctorlake": ProctorLakeResource()},
)
