"""The warm Spark server's pure parts: the server's command line and the shared session URL."""

from __future__ import annotations

import uuid

from proctorlake.core.settings import load_settings
from proctorlake.storage.spark_session import (
    CONNECT_SERVER_CLASS,
    connect_server_argv,
    session_conf,
    shared_session_url,
)


def settings_for(home: str, remote: str = "sc://10.0.0.5:15002", port: int = 15002):
    return load_settings(
        {
            "PROCTORLAKE_HOME": home,
            "PROCTORLAKE_SPARK_REMOTE": remote,
            "PROCTORLAKE_SPARK_CONNECT_PORT": str(port),
        }
    )


def session_id(url: str) -> str:
    return url.split("session_id=")[1]


def test_every_run_of_one_code_location_shares_one_server_session(tmp_path):
    a = settings_for(str(tmp_path / "a"))
    first = shared_session_url(a, "proctorlake-dagster")
    assert first.startswith("sc://10.0.0.5:15002/;session_id=")
    uuid.UUID(session_id(first))  # Connect accepts only UUIDs
    assert shared_session_url(a, "proctorlake-dagster") == first
    assert shared_session_url(a, "proctorlake-analysis") != first
    assert shared_session_url(settings_for(str(tmp_path / "b")), "proctorlake-dagster") != first
    with_params = settings_for(str(tmp_path / "a"), "sc://h:1/;use_ssl=true")
    assert shared_session_url(with_params, "x").startswith("sc://h:1/;use_ssl=true;session_id=")
    pinned = settings_for(str(tmp_path / "a"), "sc://h:1/;session_id=" + str(uuid.UUID(int=7)))
    assert shared_session_url(pinned, "x") == pinned.spark_remote


def test_the_server_runs_sparks_own_connect_class_with_the_project_configuration(tmp_path):
    settings = settings_for(str(tmp_path), remote="", port=16001)
    argv = connect_server_argv(settings)
    assert argv[0].endswith("bin/spark-submit") and argv[-1] == "spark-internal"
    assert argv[argv.index("--class") + 1] == CONNECT_SERVER_CLASS
    confs = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")
    assert confs["spark.connect.grpc.binding.port"] == "16001"
    assert confs["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert confs["spark.python.worker.reuse"] == "true"
    assert confs["spark.executorEnv.OPENBLAS_NUM_THREADS"] == "1"  # tasks are the parallelism
    assert "DeltaSparkSessionExtension" in confs["spark.sql.extensions"]
    assert session_conf(settings).items() <= confs.items()
