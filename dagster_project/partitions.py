"""One dynamic partition per exam session, added by the sensor when a session has ended."""

from dagster import DynamicPartitionsDefinition

session_partitions = DynamicPartitionsDefinition(name="sessions")
