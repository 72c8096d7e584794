"""The one factory for SparkSessions: Delta extensions, the project's jars, S3, executors' Python.

Spark runs in this process (``local[N]`` or a cluster's master), or, when
``PROCTORLAKE_SPARK_REMOTE`` names one, in a Spark Connect server this process attaches to as
a client: ``proctorlake up`` starts Spark's own Connect server
(``connect_server_argv``) so the JVM, the jars and Delta's first read are paid once, not per
Dagster run.

Jars come from Maven Central through ``proctorlake.storage.jars`` (resolved into an ignored folder)
and
are handed to Spark with ``spark.jars``; Spark never downloads anything itself. Every
``PROCTORLAKE_*`` variable is forwarded to executors so they read the same settings.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from pyspark.sql import SparkSession

from proctorlake.core.settings import PREFIX, REPO_ROOT, Settings
from proctorlake.storage.jars import spark_jars

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"

WORKER_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Python workers' numeric thread pools, one thread each: the task slots are the parallelism,
and two workers' BLAS pools side by side spin against each other (webcam detection in two
processes at once: 1.74 s of CPU per 48 frames each with the default pools, 1.35 s with
these; 2026-11-30, shared machine)."""


C1_ONLY_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
"""A short-lived JVM that compiles with C1 alone. Stopping at C1 also shrinks the JVM's default
code cache from 240 MB to 48 MB, too small for Spark, Delta and their Scala libraries: the
cache filled and the sweeper flushed compiled methods that C1 then compiled again (a warm
30-minute run spent 4.0 s in C1 and 1.5 s sweeping, against 0.5-0.9 s in C1 with the cache at
240 MB; 2026-12-01)."""


def session_conf(settings: Settings) -> dict[str, str]:
    """The settings a client sets on its own session (runtime SQL settings, so a Spark
    Connect client can set them too; everything else is fixed when the JVM starts)."""
    return {
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Delta reads its log with 50 tasks by default: far too many for small tables.
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # One chunk of video per task: a task is seconds of work, not microseconds.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1",
    }


def spark_conf(
    settings: Settings, cores: int | None = None, long_lived: bool = False
) -> dict[str, str]:
    """The Spark configuration for these settings (pure, so it can be inspected and tested).
    ``long_lived``: for the Connect server, whose JVM serves runs all day."""
    master = f"local[{cores}]" if cores else settings.spark_master
    conf = session_conf(settings) | {
        "spark.master": master,
        "spark.jars": ",".join(str(p) for p in spark_jars(settings)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        # Python workers (and the models they loaded) serve task after task.
        "spark.python.worker.reuse": "true",
        "spark.sql.warehouse.dir": str(settings.home / "spark-warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.home / 'run'}",
    }
    if master.startswith("local") and not long_lived:
        # In local mode the driver JVM shares the machine's cores with the Python workers that
        # do the analysis; C2's compiler threads cost ~3.5 s of a 300 s-video job here and the
        # JVM's own work (planning, Delta log, Arrow hand-off) is light: stop at C1. Not for
        # a JVM that lives all day: once C2 has compiled the planner and Delta's log code, a
        # warm 1-minute session's runs took 9.4-9.7 s instead of 12.0-17.9 s (incidents
        # 6.1-6.8 s instead of 8.8-13.0 s; 3rd-5th runs in one JVM, 2026-11-30).
        conf["spark.driver.extraJavaOptions"] += f" {C1_ONLY_JVM_OPTIONS}"
    for name, value in WORKER_THREADS.items():
        conf[f"spark.executorEnv.{name}"] = value
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


def connect_url(settings: Settings) -> str:
    """The local Connect server's address (``proctorlake up`` starts it there)."""
    return f"sc://127.0.0.1:{settings.spark_connect_port}"


def connect_server_argv(settings: Settings) -> list[str]:
    """``spark-submit`` of Spark's own Connect server with this project's configuration,
    listening on 127.0.0.1 only. Its Python workers run this interpreter (see
    :func:`connect_server_env`)."""
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    conf = spark_conf(settings, long_lived=True) | {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(settings.spark_connect_port),
    }
    argv = [str(submit), "--class", CONNECT_SERVER_CLASS, "--name", "proctorlake-connect"]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, "spark-internal"]


def connect_server_env(settings: Settings) -> dict[str, str]:
    """Environment of the Connect server: Python workers run this interpreter and import
    the project (``spark_jobs``, ``models``) from this checkout."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYSPARK_PYTHON": sys.executable, "PYTHONPATH": path} | WORKER_THREADS


def shared_session_url(settings: Settings, app_name: str) -> str:
    """The remote URL with a session id fixed per home and application: every process of
    one code location (each Dagster run is one) attaches to the same server-side session,
    so they share its Python workers and the models those loaded. A fresh session would get
    fresh workers: Connect keys workers by session."""
    if "session_id=" in settings.spark_remote:
        return settings.spark_remote
    session = uuid.uuid5(uuid.NAMESPACE_URL, f"proctorlake:{settings.home}:{app_name}")
    base = settings.spark_remote.rstrip("/")
    return f"{base};session_id={session}" if "/;" in base else f"{base}/;session_id={session}"


def stop_spark(spark: SparkSession) -> None:
    """Stop a session this process runs; a Connect client only detaches, because stopping
    would close the shared server-side session for every later run."""
    if not is_remote(spark):
        spark.stop()


def is_remote(spark: SparkSession) -> bool:
    """Whether this is a Spark Connect client session."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def get_spark(
    settings: Settings,
    app_name: str = "proctorlake",
    cores: int | None = None,
    long_lived: bool = False,
) -> SparkSession:
    """A SparkSession for these settings (reused if one is already running in this process).

    With ``PROCTORLAKE_SPARK_REMOTE`` set and no core count asked for, a Spark Connect
    client session on that server; otherwise Spark in this process, configured as the
    Connect server's JVM is when ``long_lived`` (see :func:`spark_conf`)."""
    if settings.spark_remote and cores is None:
        builder = SparkSession.builder.remote(shared_session_url(settings, app_name))
        for key, value in session_conf(settings).items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    # Workers must run this interpreter, which has the models' dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings, cores, long_lived).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
