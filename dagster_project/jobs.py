"""Jobs: the per-session analysis (chunks -> detections -> incidents)."""

from dagster import AssetSelection, define_asset_job

from dagster_project.partitions import session_partitions

analyze_session_job = define_asset_job(
    "analyze_session",
    selection=AssetSelection.groups("bronze", "silver", "gold"),
    partitions_def=session_partitions,
    description="Full post-exam analysis of one session.",
)
