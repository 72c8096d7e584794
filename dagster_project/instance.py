"""The Dagster instance's run queue: how many runs, and how many Spark drivers, at once.

Every run (sensor, schedule, a launch, a back-fill or a retry from the UI) goes through the
``QueuedRunCoordinator``; the daemon (``dagster-daemon run``) starts queued runs while they
fit under both limits. Runs of the analysis job carry ``SPARK_RUN_TAG``, so a window of
ended sessions never starts more Spark drivers than the machine (or the cluster) can feed.
"""

from pathlib import Path

import yaml

from proctorlake.core.settings import Settings

SPARK_RUN_TAG = "proctorlake/spark"
"""Tag key of runs that start a Spark driver; its limit is ``PROCTORLAKE_DAGSTER_SPARK_RUNS``."""

INSTANCE_FILE = "dagster.yaml"


def instance_config(settings: Settings) -> dict:
    """The ``dagster.yaml`` content for these settings (storage stays in DAGSTER_HOME)."""
    return {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": settings.dagster_max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": SPARK_RUN_TAG, "limit": settings.dagster_spark_runs}
                ],
            },
        },
        "telemetry": {"enabled": False},
    }


def write_instance_config(folder: Path, settings: Settings) -> Path:
    """Write ``dagster.yaml`` into ``folder`` (DAGSTER_HOME); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / INSTANCE_FILE
    path.write_text(yaml.safe_dump(instance_config(settings), sort_keys=False))
    return path
