"""The local Kafka broker: real JVM, real kafka-python clients, on loopback ports."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from proctorlake.core.settings import Settings, load_settings
from proctorlake.core.topics import ALL_TOPICS, FRAMES_WEBCAM, SESSIONS
from proctorlake.storage import kafka_io
from proctorlake.storage.broker import (
    FRAME_TOPIC_CONFIG,
    BrokerError,
    broker_paths,
    broker_status,
    new_cluster_id,
    start_broker,
    stop_broker,
)
from tests.fixtures.broker import RunningBroker, broker_env, free_port
from tests.fixtures.waiting import wait_until


@pytest.fixture
def admin(kafka_broker: RunningBroker):
    client = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    yield client
    client.close()


def _own_topic(admin: KafkaAdminClient, partitions: int) -> str:
    """A topic no other test touches (auto-creation is off on the broker)."""
    name = f"test.{uuid.uuid4().hex[:12]}"
    admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000, wait_for_metadata=True)
    return name


def _consume(consumer: KafkaConsumer, expected: int, timeout_s: float = 30.0) -> list:
    records = []
    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def _mark_every_partition(bootstrap: str, topic: str, partitions: int) -> set[str]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    markers = {f"marker-{partition}" for partition in range(partitions)}
    for partition in range(partitions):
        producer.send(topic, value=f"marker-{partition}".encode(), partition=partition)
    producer.flush(timeout=30)
    producer.close()
    return markers


def _consume_until(consumer: KafkaConsumer, markers: set[str], timeout_s: float = 30.0) -> list:
    """The records before the markers, once every marker came (each partition in order)."""
    records: list = []
    seen: set[str] = set()

    def all_marked() -> bool:
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                value = record.value.decode()
                if value in markers:
                    seen.add(value)
                else:
                    records.append(record)
        return seen == markers

    def shown() -> str:
        return f"markers {sorted(markers)}; seen {sorted(seen)}"

    wait_until(all_marked, timeout_s, shown, interval_s=0)
    return records


def _consumer(bootstrap: str, topic: str, group: str) -> KafkaConsumer:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=kafka_io.METADATA_MAX_AGE_MS,
    )
    # As kafka_io's group consumers do: the topic's metadata before the first join, or the
    # group may be dealt no partitions until the next metadata refresh.
    consumer.partitions_for_topic(topic)
    return consumer


def _produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for index, value in enumerate(values):
        key = f"session-{index % 3}".encode()
        producer.send(topic, key=key, value=value.encode())
    producer.flush(timeout=30)
    producer.close()


def _home_settings(home: Path, monkeypatch: pytest.MonkeyPatch, **ports: int) -> Settings:
    port = ports.get("port", free_port())
    controller_port = ports.get("controller_port", free_port())
    for name, value in broker_env(home, port, controller_port).items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_contract_topics_exist_with_their_partition_counts(admin: KafkaAdminClient) -> None:
    described = admin.describe_topics([topic.name for topic in ALL_TOPICS])
    counts = {item["name"]: len(item["partitions"]) for item in described}
    assert counts == {topic.name: topic.partitions for topic in ALL_TOPICS}


def test_frame_topics_keep_personal_data_briefly(admin: KafkaAdminClient) -> None:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, FRAMES_WEBCAM.name),
        ConfigResource(ConfigResourceType.TOPIC, SESSIONS.name),
    ]
    configs = admin.describe_configs(resources)["topic"]
    frames = {key: entry["value"] for key, entry in configs[FRAMES_WEBCAM.name].items()}
    sessions = {key: entry["value"] for key, entry in configs[SESSIONS.name].items()}
    assert frames["retention.ms"] == FRAME_TOPIC_CONFIG["retention.ms"] == "3600000"
    assert int(sessions["retention.ms"]) > int(frames["retention.ms"])


def test_consumer_group_resumes_after_committed_offset(
    kafka_broker: RunningBroker, admin: KafkaAdminClient
) -> None:
    topic = _own_topic(admin, partitions=3)
    group = f"group-{uuid.uuid4().hex[:8]}"
    first = [f"first-{index}" for index in range(6)]
    _produce(kafka_broker.bootstrap, topic, first)

    reader = _consumer(kafka_broker.bootstrap, topic, group)
    got_first = _consume(reader, len(first))
    reader.commit()
    reader.close()
    assert sorted(record.value.decode() for record in got_first) == sorted(first)

    second = [f"second-{index}" for index in range(4)]
    _produce(kafka_broker.bootstrap, topic, second)
    # A marker at the end of every partition: a first record delivered again would come
    # before its partition's marker, so "nothing more" is checked without waiting on silence.
    markers = _mark_every_partition(kafka_broker.bootstrap, topic, partitions=3)
    successor = _consumer(kafka_broker.bootstrap, topic, group)
    got_second = _consume_until(successor, markers)
    successor.commit()
    successor.close()
    assert sorted(record.value.decode() for record in got_second) == sorted(second)

    committed = admin.list_group_offsets(group)[group]
    total = len(first) + len(second) + len(markers)
    assert sum(meta.offset for meta in committed.values()) == total
    assert {tp.topic for tp in committed} == {topic}


def test_records_of_one_session_stay_in_order_on_one_partition(
    kafka_broker: RunningBroker, admin: KafkaAdminClient
) -> None:
    topic = _own_topic(admin, partitions=3)
    values = [f"event-{index:02d}" for index in range(30)]
    _produce(kafka_broker.bootstrap, topic, values)
    reader = _consumer(kafka_broker.bootstrap, topic, f"group-{uuid.uuid4().hex[:8]}")
    records = _consume(reader, len(values))
    reader.close()
    by_key: dict[bytes, list[tuple[int, str]]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append((record.partition, record.value.decode()))
    assert len(records) == len(values)
    for key, seen in by_key.items():
        assert len({partition for partition, _ in seen}) == 1, key
        assert [value for _, value in seen] == sorted(value for _, value in seen)


def test_uncommitted_records_are_delivered_again(
    kafka_broker: RunningBroker, admin: KafkaAdminClient
) -> None:
    topic = _own_topic(admin, partitions=1)
    group = f"group-{uuid.uuid4().hex[:8]}"
    _produce(kafka_broker.bootstrap, topic, ["a", "b", "c"])
    reader = _consumer(kafka_broker.bootstrap, topic, group)
    assert len(_consume(reader, 3)) == 3
    reader.commit({TopicPartition(topic, 0): OffsetAndMetadata(1, "", -1)})
    reader.close()
    successor = _consumer(kafka_broker.bootstrap, topic, group)
    again = [record.value.decode() for record in _consume(successor, 2)]
    successor.close()
    assert again == ["b", "c"]


def test_cluster_ids_never_look_like_an_option() -> None:
    """One random id in 64 starts with '-', which the storage tool's parser read as an option."""
    ids = [new_cluster_id() for _ in range(5000)]
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(cluster_id + "==")) == 16 for cluster_id in ids)
    assert len(set(ids)) == len(ids)


def test_start_twice_reports_the_running_broker(kafka_broker: RunningBroker) -> None:
    again = start_broker(kafka_broker.settings)
    assert again.running and again.managed
    assert again.pid == kafka_broker.status.pid
    assert broker_status(kafka_broker.settings) == again
    assert again.log_path is not None and again.log_path.is_file()
    assert "Kafka Server started" in again.log_path.read_text()


@pytest.mark.slow
def test_stale_pid_file_is_replaced_and_stop_frees_the_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _home_settings(tmp_path / "home", monkeypatch)
    paths = broker_paths(settings)
    paths.pid_file.parent.mkdir(parents=True)
    # A live process that is not Kafka holds the PID: it must be ignored, never signalled.
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        paths.pid_file.write_text(f"{bystander.pid}\n")
        assert broker_status(settings).running is False
        assert not paths.pid_file.exists()

        paths.pid_file.write_text(f"{bystander.pid}\n")
        started = start_broker(settings)
        assert started.running and started.pid not in (None, bystander.pid)
        assert bystander.poll() is None
        assert int(paths.pid_file.read_text()) == started.pid

        assert stop_broker(settings) is True
        assert not paths.pid_file.exists()
        assert broker_status(settings).running is False
        assert stop_broker(settings) is False
        assert bystander.poll() is None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", settings.kafka_port))
    finally:
        bystander.kill()
        bystander.wait()
        stop_broker(settings)


def test_pid_file_of_a_dead_process_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _home_settings(tmp_path / "home", monkeypatch)
    paths = broker_paths(settings)
    paths.pid_file.parent.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    paths.pid_file.write_text(f"{gone.pid}\n")
    assert broker_status(settings).running is False
    assert stop_broker(settings) is False
    assert not paths.pid_file.exists()


def test_busy_port_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = _home_settings(tmp_path / "home", monkeypatch, port=port)
        with pytest.raises(BrokerError, match=f"port {port} .* in use"):
            start_broker(settings)
    assert not broker_paths(settings).pid_file.exists()


def test_broker_that_dies_at_start_points_at_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _home_settings(tmp_path / "home", monkeypatch)
    paths = broker_paths(settings)
    paths.data_dir.mkdir(parents=True)
    # Storage that looks formatted but is not: the broker refuses it and exits.
    (paths.data_dir / "meta.properties").write_text("this is not a Kafka meta.properties\n")
    with pytest.raises(BrokerError, match="exited during start") as raised:
        start_broker(settings, timeout_s=60)
    assert str(paths.server_log) in str(raised.value)
    assert "Exception" in str(raised.value)  # the cause, read from the log
    assert not paths.pid_file.exists()
    assert broker_status(settings).running is False


def test_external_cluster_is_only_checked(
    kafka_broker: RunningBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _home_settings(tmp_path / "home", monkeypatch)
    monkeypatch.setenv("PROCTORLAKE_KAFKA_BOOTSTRAP", kafka_broker.bootstrap)
    external = load_settings()
    status = start_broker(external)
    assert status.running and not status.managed and status.pid is None
    assert not broker_paths(external).pid_file.exists()
    assert not external.kafka_dir.exists()
    assert stop_broker(external) is False
    assert broker_status(kafka_broker.settings).running

    monkeypatch.setenv("PROCTORLAKE_KAFKA_BOOTSTRAP", f"127.0.0.1:{settings.kafka_port}")
    monkeypatch.setenv("PROCTORLAKE_KAFKA_PORT", str(free_port()))
    with pytest.raises(BrokerError, match="does not answer"):
        start_broker(load_settings())


@pytest.mark.slow
def test_spark_reads_a_topic_through_the_kafka_connector(
    spark, kafka_broker: RunningBroker, admin: KafkaAdminClient
) -> None:
    topic = _own_topic(admin, partitions=2)
    values = [f"frame-{index}" for index in range(5)]
    _produce(kafka_broker.bootstrap, topic, values)
    rows = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka_broker.bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value")
        .collect()
    )
    assert sorted(row.value for row in rows) == sorted(values)
    assert {row.key for row in rows} == {"session-0", "session-1", "session-2"}
