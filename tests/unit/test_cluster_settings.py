"""Settings that take the batch path off one machine: the run queue and Spark's event log."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance
from dagster._core.run_coordinator import QueuedRunCoordinator

from dagster_project.instance import SPARK_RUN_TAG, write_instance_config
from dagster_project.jobs import analyze_session_job
from proctorlake.core.settings import load_settings
from proctorlake.storage.spark_session import spark_conf


def test_the_instance_queues_runs_under_the_settings_limits(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PROCTORLAKE_HOME": str(tmp_path),
            "PROCTORLAKE_DAGSTER_MAX_CONCURRENT_RUNS": "7",
            "PROCTORLAKE_DAGSTER_SPARK_RUNS": "3",
        }
    )
    write_instance_config(tmp_path / "dagster", settings)
    with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 7
    assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [
        (SPARK_RUN_TAG, 3)
    ]
    # The analysis job's runs are the ones that count against the Spark limit.
    assert SPARK_RUN_TAG in analyze_session_job.tags


def test_event_log_is_on_only_when_a_folder_is_set(tmp_path: Path) -> None:
    environ = {"PROCTORLAKE_HOME": str(tmp_path)}
    assert "spark.eventLog.enabled" not in spark_conf(load_settings(environ))
    conf = spark_conf(
        load_settings(environ | {"PROCTORLAKE_SPARK_EVENT_LOG_DIR": "s3a://bucket/spark-events"})
    )
    assert conf["spark.eventLog.enabled"] == "true"
    assert conf["spark.eventLog.dir"] == "s3a://bucket/spark-events"


def test_only_a_per_run_local_jvm_stops_at_the_c1_compiler(tmp_path: Path) -> None:
    """A run's own JVM lives minutes (C2's compile threads would compete with the analysis);
    the Connect server's lives all day, and C2-compiled planning and Delta code pays off."""
    from proctorlake.storage.spark_session import connect_server_argv

    settings = load_settings({"PROCTORLAKE_HOME": str(tmp_path)})
    c1 = "-XX:TieredStopAtLevel=1"
    local_options = spark_conf(settings, cores=2)["spark.driver.extraJavaOptions"]
    assert c1 in local_options
    # C1 alone would shrink the code cache to 48 MB, too small for Spark and Delta
    assert "-XX:ReservedCodeCacheSize=240m" in local_options
    server_options = [a for a in connect_server_argv(settings) if "extraJavaOptions" in a]
    assert server_options and all(c1 not in option for option in server_options)
