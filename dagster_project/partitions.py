"""One dynamic partition per exam session, added by the sensor when a session has ended."""

from dagster import DynamicPartitionsDefinition

session_partitions = DynamicPartitionsDefinition(name="sessions")

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
"""Tags that make a run cover a range of partitions (``dagster_project.runs`` batches)."""
