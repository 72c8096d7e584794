"""The unit tier: pure functions and tiny inputs, no broker, no servers.

Only ``unit_spark`` starts anything (a local[1] SparkSession through the project's one
factory, ~25 s on the 2-core machine), and only for the module that asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def unit_spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from proctorlake.core.settings import load_settings
    from proctorlake.storage.spark_session import get_spark

    home: Path = tmp_path_factory.mktemp("unit-spark-home")
    environ = {
        **os.environ,
        "PROCTORLAKE_HOME": str(home),
        "PROCTORLAKE_SPARK_SHUFFLE_PARTITIONS": "1",
    }
    session = get_spark(load_settings(environ), app_name="proctorlake-unit", cores=1)
    # Tiny frames: skip the broadcast job and the code generation the first join would pay.
    for key, value in {
        "spark.sql.autoBroadcastJoinThreshold": "-1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
    }.items():
        session.conf.set(key, value)
    yield session
    session.stop()
