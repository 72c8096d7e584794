"""Dagster resources: thin wrappers over the shared clients, swapped in tests."""

from __future__ import annotations

import os

from dagster import ConfigurableResource
from pyspark.sql import SparkSession

from proctorlake.core.settings import Settings, load_settings
from proctorlake.storage.spark_session import get_spark


class ProctorLakeResource(ConfigurableResource):
    """Settings plus the Spark session for them.

    ``home`` overrides ``PROCTORLAKE_HOME`` (tests point it at a temp folder); everything else
    (local folders or S3, local Spark or a cluster master) comes from ``PROCTORLAKE_*``.
    """

    home: str | None = None
    spark_cores: int | None = None

    def settings(self) -> Settings:
        # The override stays inside this resource: the process environment is not touched.
        if self.home:
            return load_settings(os.environ | {"PROCTORLAKE_HOME": self.home})
        return load_settings()

    def spark(self) -> SparkSession:
        return get_spark(self.settings(), app_name="proctorlake-dagster", cores=self.spark_cores)
