"""The Delta lander on the real broker: an erased session's sealed events are skipped (never a
poison record that stops every later session from landing)."""

from __future__ import annotations

import time
import uuid

from proctorlake.core.messages import IncidentMessage
from proctorlake.governance import keystore, sealed_topics
from proctorlake.storage import kafka_io, lake
from realtime.workers.topic_lander import TopicLander
from tests.fixtures.waiting import wait_until


def incident(session_id: str) -> IncidentMessage:
    now_ms = int(time.time() * 1000)
    return IncidentMessage(
        incident_id=f"i-{session_id}",
        session_id=session_id,
        institution_id="inst-a",
        incident_type="face_not_visible",
        severity="medium",
        confidence=0.9,
        start_s=2.0,
        end_s=8.0,
        state="closed",
        trigger_captured_at_ms=now_ms,
        event_at_ms=now_ms,
    )


def landed_ids(settings) -> set[str]:
    if lake.open_table(settings, "stream_incidents") is None:
        return set()
    return set(lake.read_table(settings, "stream_incidents").column("incident_id").to_pylist())


def test_the_lander_skips_an_erased_sessions_events_and_lands_the_next(kafka_settings):
    settings = kafka_settings
    erased, kept = f"s-{uuid.uuid4().hex}", f"s-{uuid.uuid4().hex}"
    producer = kafka_io.make_producer(settings)
    sealed_topics.publish(settings, producer, incident(erased)).get(timeout=15)
    keystore.destroy_session_key(settings, erased)  # erased after its event was published
    sealed_topics.publish(settings, producer, incident(kept)).get(timeout=15)
    producer.close()
    lander = TopicLander(settings, group_id=f"lander-{uuid.uuid4().hex[:8]}")
    try:

        def landed() -> set[str] | None:
            lander.land_once(batch_seconds=0.5)
            ids = landed_ids(settings)
            return ids if f"i-{kept}" in ids else None

        ids = wait_until(
            landed, 60, lambda: f"the kept session's incident; landed {landed_ids(settings)}"
        )
    finally:
        lander.close()
    assert f"i-{erased}" not in ids
