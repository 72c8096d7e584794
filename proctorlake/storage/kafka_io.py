"""Kafka clients for the stream path, configured once from settings.

Producers wait for the broker's acknowledgement (idempotent, acks=all) so an accepted frame
or incident is never lost silently. Consumers never auto-commit: each room commits its
offsets only after its outputs are durable. A fetch the broker cannot fill yet is parked
there and answered as soon as a record arrives (fetch.min.bytes is 1), so the fetch wait only
bounds how often an idle consumer asks again: a long wait costs no latency, a short one costs
CPU (measured at 50 sessions, 20 -> 500 ms: broker 12 -> 5 ms and the whole stream path
58 -> 31 ms of CPU per frame).

A group member learns its topics' partitions from its metadata before it joins, and the group
leader re-deals partitions only when its metadata changes. kafka-python 3.0 refreshes
metadata every 5 minutes by default and drops a refresh asked for while another one is in
flight (``ClusterMetadata.update_metadata`` clears the request), so a member that joined
before its topic's metadata arrived could sit with no partitions for minutes (a CI flake:
"No partition metadata for topic frames.screen"). Hence: a group consumer fetches its topics'
metadata before its first join, and every client refreshes metadata every few seconds, which
bounds any missed change (a topic created later, partitions added) to that period.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.serializer import Serializer

from proctorlake.core.settings import Settings
from proctorlake.core.topics import Topic
from proctorlake.storage.kafka_security import connection_options, refusals_explained

FETCH_MAX_WAIT_MS = 500
MAX_RECORD_BYTES = 4 * 1024 * 1024
METADATA_MAX_AGE_MS = 5000
"""How stale a client's topic metadata may get: the longest a group waits to be dealt a new
topic's (or a new partition's) share. One small metadata request per client per period."""


class SessionKeySerializer(Serializer):
    """Record keys are session ids, sent as UTF-8."""

    def serialize(self, topic: str, headers, data: str) -> bytes:
        return data.encode("utf-8")


def make_producer(settings: Settings) -> KafkaProducer:
    with refusals_explained(settings):
        return _producer(settings)


def _producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=0,
        max_request_size=MAX_RECORD_BYTES,
        request_timeout_ms=15000,
        key_serializer=SessionKeySerializer(),
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **connection_options(settings),
    )


def make_group_consumer(
    settings: Settings, group_id: str, topics: Sequence[Topic], max_poll_records: int = 100
) -> KafkaConsumer:
    """A consumer-group member: partitions are shared among the group's processes."""
    with refusals_explained(settings):
        return _group_consumer(settings, group_id, topics, max_poll_records)


def _group_consumer(
    settings: Settings, group_id: str, topics: Sequence[Topic], max_poll_records: int
) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        max_poll_records=max_poll_records,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **connection_options(settings),
    )
    consumer.subscribe([t.name for t in topics])
    # Before the first poll joins the group: a leader without its topics' metadata deals them
    # to nobody. A topic that does not exist yet is found by the periodic refresh instead.
    for topic in topics:
        consumer.partitions_for_topic(topic.name)
    return consumer


def make_tail_consumer(settings: Settings, topics: Sequence[Topic]) -> KafkaConsumer:
    """A group-less reader of every partition, starting at the end (for live fan-out)."""
    with refusals_explained(settings):
        return _tail_consumer(settings, topics)


def _tail_consumer(settings: Settings, topics: Sequence[Topic]) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **connection_options(settings),
    )
    partitions = [
        TopicPartition(t.name, p)
        for t in topics
        for p in sorted(consumer.partitions_for_topic(t.name) or range(t.partitions))
    ]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    return consumer
