"""Jobs: the per-session analysis, the institution statistics, and the tables' upkeep."""

from dagster import AssetSelection, OpExecutionContext, define_asset_job, job, op

from dagster_project.instance import SPARK_RUN_TAG
from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from spark_jobs.maintain_tables import optimize_all

analyze_session_job = define_asset_job(
    "analyze_session",
    selection=AssetSelection.groups("bronze", "silver", "gold"),
    partitions_def=session_partitions,
    tags={SPARK_RUN_TAG: "driver"},  # the run queue starts as many as the Spark limit allows
    description="Full post-exam analysis of one session, quality checks included.",
)

institution_daily_job = define_asset_job(
    "institution_statistics",
    selection=AssetSelection.groups("statistics"),
    description="Rebuild the per-institution daily statistics from the session reports.",
)


@op(description="Compact every Delta table, Z-ordered by the columns readers filter on.")
def optimize_tables(context: OpExecutionContext, proctorlake: ProctorLakeResource) -> list:
    results = optimize_all(proctorlake.settings())
    for result in results:
        context.log.info(str(result))
    return results


@job(description="Compact and Z-order the Delta tables (scheduled nightly).")
def maintain_tables_job() -> None:
    optimize_tables()
