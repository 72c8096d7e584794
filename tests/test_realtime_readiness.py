"""Readiness of a consumer group, as the real broker's coordinator reports it."""

from __future__ import annotations

import uuid

import pytest

from proctorlake.core.settings import Settings
from proctorlake.core.topics import DETECTIONS
from proctorlake.storage import kafka_io
from proctorlake.storage.kafka_readiness import describe_group, wait_for_group
from tests.fixtures.waiting import wait_until


def test_a_group_is_ready_once_its_members_joined(kafka_settings: Settings) -> None:
    group_id = f"readiness-{uuid.uuid4().hex[:8]}"
    assert describe_group(kafka_settings, group_id).members == 0  # unknown or not yet set up
    consumer = kafka_io.make_group_consumer(kafka_settings, group_id, [DETECTIONS])
    try:
        # The consumer joins only while it polls: poll until it is dealt its partitions.
        wait_until(
            lambda: consumer.poll(timeout_ms=100) is not None and consumer.assignment(),
            30,
            "the consumer was dealt its partitions",
            interval_s=0,
        )
        state = wait_for_group(kafka_settings, group_id, members=1, timeout_s=30)
        assert (state.state, state.members) == ("Stable", 1)
        # The timeout under test: a second member never comes, so it must run out.
        with pytest.raises(TimeoutError, match=r"1 of 2 members"):
            wait_for_group(kafka_settings, group_id, members=2, timeout_s=1)
    finally:
        consumer.close()
