"""The one factory for SparkSessions: Delta extensions, the project's jars, S3, executors' Python.

Jars come from Maven Central through ``proctorlake.storage.jars`` (resolved into an ignored folder)
and
are handed to Spark with ``spark.jars``; Spark never downloads anything itself. Every
``PROCTORLAKE_*`` variable is forwarded to executors so they read the same settings.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from proctorlake.core.settings import PREFIX, Settings
from proctorlake.storage.jars import spark_jars


def spark_conf(settings: Settings, cores: int | None = None) -> dict[str, str]:
    """The Spark configuration for these settings (pure, so it can be inspected and tested)."""
    master = f"local[{cores}]" if cores else settings.spark_master
    conf = {
        "spark.master": master,
        "spark.jars": ",".join(str(p) for p in spark_jars(settings)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Delta reads its log with 50 tasks by default: far too many for small tables.
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.driver.memory": "2g",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # One chunk of video per task: a task is seconds of work, not microseconds.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1",
        "spark.python.worker.reuse": "true",
        "spark.sql.warehouse.dir": str(settings.home / "spark-warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.home / 'run'}",
    }
    if master.startswith("local"):
        # In local mode the driver JVM shares the machine's cores with the Python workers that
        # do the analysis; C2's compiler threads cost ~3.5 s of a 300 s-video job here and the
        # JVM's own work (planning, Delta log, Arrow hand-off) is light: stop at C1.
        conf["spark.driver.extraJavaOptions"] += " -XX:TieredStopAtLevel=1"
    if settings.spark_event_log_dir:
        conf.update(
            {
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": settings.spark_event_log_dir,
                # Plain JSON lines: small for these jobs, and readable without a codec.
                "spark.eventLog.compress": "false",
            }
        )
    for name, value in os.environ.items():
        if name.startswith(PREFIX):
            conf[f"spark.executorEnv.{name}"] = value
    if settings.storage_backend == "s3":
        conf.update(
            {
                "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.endpoint.region": settings.s3_region,
            }
        )
        if settings.s3_endpoint:
            conf["spark.hadoop.fs.s3a.endpoint"] = settings.s3_endpoint
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
                settings.s3_endpoint.startswith("https")
            ).lower()
        if settings.s3_access_key:
            conf["spark.hadoop.fs.s3a.access.key"] = settings.s3_access_key
            conf["spark.hadoop.fs.s3a.secret.key"] = settings.s3_secret_key or ""
    return conf


def get_spark(
    settings: Settings, app_name: str = "proctorlake", cores: int | None = None
) -> SparkSession:
    """A SparkSession for these settings (reused if one is already running in this process)."""
    # Workers must run this interpreter, which has the models' dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings, cores).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
