"""The JVM jars resolved by Maven: the right versions, no clash with pyspark's own jars."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import time
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings, load_settings
from proctorlake.storage.jars import (
    POM_DIR,
    JarResolutionError,
    artifact_name,
    kafka_classpath,
    pyspark_jars_dir,
    resolve_jars,
    spark_jars,
)


@pytest.fixture(scope="module")
def repo_settings() -> Settings:
    """The repository's own jars folder (resolved once, shared with every other test)."""
    return load_settings()


def test_second_resolve_is_stamped_and_fast(repo_settings: Settings) -> None:
    resolve_jars(repo_settings)
    started = time.monotonic()
    again = resolve_jars(repo_settings)
    assert again.resolved_now is False
    assert time.monotonic() - started < 1.0
    assert all(jar.is_file() for jar in (*again.spark, *again.s3, *again.kafka))


def test_delta_and_kafka_connector_match_the_installed_pyspark(repo_settings: Settings) -> None:
    spark_version = importlib.metadata.version("pyspark")
    delta_version = importlib.metadata.version("delta-spark")
    major_minor = ".".join(spark_version.split(".")[:2])
    names = {jar.name for jar in spark_jars(repo_settings)}
    # The coordinate delta's configure_spark_with_delta_pip would ask Ivy for.
    assert f"delta-spark_{major_minor}_2.13-{delta_version}.jar" in names
    assert f"delta-storage-{delta_version}.jar" in names
    assert f"spark-sql-kafka-0-10_2.13-{spark_version}.jar" in names


def test_spark_jars_never_duplicate_a_library_pyspark_ships(repo_settings: Settings) -> None:
    jars_dir = pyspark_jars_dir()
    assert jars_dir is not None
    shipped = {artifact_name(jar.name) for jar in jars_dir.glob("*.jar")}
    assert {"spark-core_2.13", "scala-library", "hadoop-client-api"} <= shipped
    ours = spark_jars(repo_settings, include_s3=True)
    assert {artifact_name(jar.name) for jar in ours} & shipped == set()


def test_s3_jars_join_spark_only_for_s3_storage(
    repo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = {artifact_name(jar.name) for jar in spark_jars(repo_settings)}
    assert "hadoop-aws" not in local and "bundle" not in local
    monkeypatch.setenv("PROCTORLAKE_STORAGE", "s3")
    on_s3 = {artifact_name(jar.name) for jar in spark_jars(load_settings())}
    assert {"hadoop-aws", "bundle"} <= on_s3
    assert local < on_s3


def test_kafka_classpath_runs_a_broker_apart_from_spark(repo_settings: Settings) -> None:
    entries = [Path(entry) for entry in kafka_classpath(repo_settings).split(":")]
    names = {artifact_name(entry.name) for entry in entries}
    assert {"kafka_2.13", "kafka-server", "kafka-clients", "log4j-slf4j-impl"} <= names
    assert all(entry.parent == repo_settings.jars_dir / "kafka" for entry in entries)
    assert not names & {"delta-spark_4.2_2.13", "spark-sql-kafka-0-10_2.13"}


@pytest.mark.parametrize(
    ("file_name", "artifact"),
    [
        ("spark-sql-kafka-0-10_2.13-4.2.0.jar", "spark-sql-kafka-0-10_2.13"),
        ("delta-spark_4.2_2.13-4.4.0.jar", "delta-spark_4.2_2.13"),
        ("zstd-jni-1.5.7-17.jar", "zstd-jni"),
        ("hive-exec-2.3.10-core.jar", "hive-exec"),
        ("wildfly-openssl-2.2.5.Final.jar", "wildfly-openssl"),
        ("jline-3.29.0-jdk8.jar", "jline"),
    ],
)
def test_artifact_name_strips_version_and_classifier(file_name: str, artifact: str) -> None:
    assert artifact_name(file_name) == artifact


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCTORLAKE_JARS_DIR", str(tmp_path / "jars"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(JarResolutionError, match=r"Maven \('mvn'\) is not on PATH"):
        resolve_jars(load_settings())


def test_unresolvable_jar_names_it_and_keeps_the_previous_jars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom_dir = tmp_path / "poms"
    shutil.copytree(POM_DIR, pom_dir)
    kafka_pom = pom_dir / "kafka" / "pom.xml"
    text = kafka_pom.read_text()
    assert "<kafka.version>" in text
    kafka_pom.write_text(
        text.replace(text.split("<kafka.version>")[1].split("<")[0], "0.0.404-missing")
    )
    jars_dir = tmp_path / "jars"
    previous = jars_dir / "kafka" / "kafka_2.13-previous.jar"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"jar resolved earlier")
    (jars_dir / "resolved.json").write_text(json.dumps({"pom_sha256": "older"}))
    monkeypatch.setenv("PROCTORLAKE_JARS_DIR", str(jars_dir))

    with pytest.raises(JarResolutionError, match="kafka_2.13.*0.0.404-missing"):
        resolve_jars(load_settings(), pom_dir=pom_dir)
    assert previous.read_bytes() == b"jar resolved earlier"
    assert not (jars_dir / ".staging").exists()
