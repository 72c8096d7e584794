"""Delta tables on the S3 API: Spark (s3a, hadoop-aws) writes, delta-rs and DuckDB read back.

Runs Spark in a child process: the S3 jars must be on the classpath when the JVM starts,
and the test run's shared SparkSession is a local-storage one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from proctorlake.core.settings import Settings
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent(
    """
    import datetime as dt, json
    from proctorlake.storage import lake
    from proctorlake.core import schemas
    from proctorlake.core.settings import load_settings
    from proctorlake.storage.spark_session import get_spark

    settings = load_settings()
    assert settings.lake_root.startswith("s3a://"), settings.lake_root
    lake.ensure_table(settings, schemas.PROCTOR_ACTIONS)
    spark = get_spark(settings, cores=1)
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
    rows = [(f"a{i}", f"sess-{i % 3}", "uni-a", "proctor-1", "message", f"hello {i}", now,
             "2026-11-25") for i in range(9)]
    frame = spark.createDataFrame(rows, schemas.PROCTOR_ACTIONS.spark_schema())
    frame.write.format("delta").mode("append").save(settings.table_uri("proctor_actions"))
    back = spark.read.format("delta").load(settings.table_uri("proctor_actions"))
    print(json.dumps({"spark_count": back.count()}))
    spark.stop()
    """
)


def test_spark_writes_delta_to_s3_that_delta_rs_and_duckdb_read(s3_settings: Settings) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-c", WRITER],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"spark_count": 9}

    table = lake.read_table(s3_settings, "proctor_actions")
    assert table.num_rows == 9
    counts = dict(
        lake.duckdb_connection(s3_settings)
        .execute("select session_id, count(*) from proctor_actions group by 1")
        .fetchall()
    )
    assert counts == {"sess-0": 3, "sess-1": 3, "sess-2": 3}
    keys = list(open_object_store(s3_settings).list("lake/proctor_actions/_delta_log/"))
    assert any(k.endswith(".json") for k in keys)
