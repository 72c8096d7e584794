"""A stream-path consumer group is dealt its topic's partitions within seconds, whichever
starts first: the worker or the topic (the CI flake "No partition metadata for topic
frames.screen"), and it is dealt partitions added later too. Real broker, real clients."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from proctorlake.core.settings import Settings
from proctorlake.core.topics import Topic
from proctorlake.storage import kafka_io
from proctorlake.storage.kafka_readiness import describe_group

PROMPT_S = 15.0
"""Well under kafka-python's default 5-minute metadata refresh, which the flake waited on."""


def _topic(partitions: int) -> Topic:
    return Topic(f"group-metadata-{uuid.uuid4().hex[:8]}", partitions, False, "test topic")


def _create(settings: Settings, topic: Topic) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics(
            [NewTopic(topic.name, topic.partitions, 1)], timeout_ms=30_000, wait_for_metadata=True
        )
    finally:
        admin.close()


def _produce(settings: Settings, topic: Topic, count: int) -> None:
    producer = kafka_io.make_producer(settings)
    try:
        for index in range(count):
            producer.send(topic.name, key=f"session-{index}", value=b"frame").get(timeout=30)
    finally:
        producer.close()


def _consume(consumer: KafkaConsumer, count: int, timeout_s: float) -> float:
    """Seconds until ``count`` records arrived; fails the test after ``timeout_s``."""
    started = time.monotonic()
    received = 0
    while received < count:
        assert time.monotonic() - started < timeout_s, (
            f"{received} of {count} records after {timeout_s:.0f} s; "
            f"assignment: {sorted(consumer.assignment())}"
        )
        received += sum(len(batch) for batch in consumer.poll(timeout_ms=200).values())
    return time.monotonic() - started


class _Deals(ConsumerRebalanceListener):
    """Records every set of partitions the group dealt this member."""

    def __init__(self) -> None:
        self.dealt: list[set[int]] = []

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        self.dealt.append({partition.partition for partition in assigned})


def _partitions_of(consumer: KafkaConsumer) -> set[int]:
    return {partition.partition for partition in consumer.assignment()}


def test_worker_started_before_topic_gets_partitions(kafka_settings: Settings) -> None:
    topic = _topic(partitions=3)
    group = f"before-{topic.name}"
    consumer = kafka_io.make_group_consumer(kafka_settings, group, [topic])
    try:
        deadline = time.monotonic() + 30
        while not describe_group(kafka_settings, group).ready(members=1):
            assert time.monotonic() < deadline, "the consumer never joined its group"
            consumer.poll(timeout_ms=200)  # joins the group, which is dealt nothing yet
        assert consumer.assignment() == set()
        _create(kafka_settings, topic)
        _produce(kafka_settings, topic, count=6)
        elapsed = _consume(consumer, count=6, timeout_s=PROMPT_S)
        assert _partitions_of(consumer) == {0, 1, 2}
    finally:
        consumer.close()
    print(f"consumed {elapsed:.2f} s after the topic appeared")


def test_worker_started_after_topic_gets_partitions_in_its_first_rebalance(
    kafka_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    topic = _topic(partitions=3)
    _create(kafka_settings, topic)
    caplog.set_level(logging.WARNING, logger="kafka.coordinator.assignors")
    consumer = kafka_io.make_group_consumer(kafka_settings, f"after-{topic.name}", [topic])
    deals = _Deals()
    # As the frame workers do to attach their rebalance listener.
    consumer.unsubscribe()
    consumer.subscribe([topic.name], listener=deals)
    try:
        _produce(kafka_settings, topic, count=6)
        _consume(consumer, count=6, timeout_s=PROMPT_S)
        assert _partitions_of(consumer) == {0, 1, 2}
    finally:
        consumer.close()
    # The leader had the topic's metadata when it dealt the partitions: no empty first deal.
    assert deals.dealt[0] == {0, 1, 2}
    assert "No partition metadata" not in caplog.text


def test_group_is_dealt_partitions_added_later_within_seconds(kafka_settings: Settings) -> None:
    topic = _topic(partitions=1)
    _create(kafka_settings, topic)
    consumer = kafka_io.make_group_consumer(kafka_settings, f"grown-{topic.name}", [topic])
    try:
        deadline = time.monotonic() + PROMPT_S
        while _partitions_of(consumer) != {0}:
            assert time.monotonic() < deadline, "never dealt the topic's one partition"
            consumer.poll(timeout_ms=200)
        admin = KafkaAdminClient(bootstrap_servers=kafka_settings.kafka_bootstrap)
        try:
            admin.create_partitions({topic.name: NewPartitions(3)}, timeout_ms=30_000)
        finally:
            admin.close()
        deadline = time.monotonic() + PROMPT_S
        while _partitions_of(consumer) != {0, 1, 2}:
            assert time.monotonic() < deadline, f"still {sorted(consumer.assignment())}"
            consumer.poll(timeout_ms=200)
    finally:
        consumer.close()
