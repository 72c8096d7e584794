"""Security review #11: per-session state is evicted after the end and bounded by a cap."""

from __future__ import annotations

import dataclasses
import time

import pytest

from proctorlake.storage import kafka_io
from realtime.api.bounded_cache import BoundedLru
from realtime.api.request_limits import RateLimited, TokenBuckets
from realtime.api.session_registry import SessionRegistry


def test_security_11_lru_keeps_at_most_its_cap():
    cache: BoundedLru[str, int] = BoundedLru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert len(cache) == 2 and "b" not in cache and cache.get("a") == 1


def test_security_7_token_bucket_refills_at_its_rate():
    buckets = TokenBuckets(burst=2, cap=10)
    buckets.spend("k", 1.0, now=0.0)
    buckets.spend("k", 1.0, now=0.0)
    with pytest.raises(RateLimited) as refused:
        buckets.spend("k", 1.0, now=0.0)
    assert refused.value.retry_after_s == 1
    buckets.spend("k", 1.0, now=1.0)
    buckets.spend("other", 1.0, now=0.0)  # keys do not share a bucket


def test_security_11_ended_sessions_are_evicted_after_grace_and_capped(kafka_settings):
    settings = dataclasses.replace(kafka_settings, ended_session_grace_s=60, session_cache_cap=1)
    producer = kafka_io.make_producer(settings)
    try:
        registry = SessionRegistry(settings, producer)
        evicted: list[str] = []
        registry.on_evict.append(evicted.append)
        first = registry.create("exam-1", "stu-1", "inst-a")
        second = registry.create("exam-1", "stu-2", "inst-a")
        still_open = registry.create("exam-1", "stu-3", "inst-a")
        registry.end(first.session_id)
        registry.end(second.session_id)
        now = time.monotonic()
        assert registry.sweep(now) == ([], [first.session_id])  # over the cap of one
        assert registry.sweep(now + 61) == ([], [second.session_id])  # past the grace
        assert evicted == [first.session_id, second.session_id]
        assert registry.cached_ids() == {still_open.session_id}
        assert registry.get(first.session_id).status == "ended"  # read back from Delta
        expired, _ = registry.sweep(now + settings.session_idle_timeout_s + 1)
        assert expired == [still_open.session_id]
        assert registry.get(still_open.session_id).status == "ended"
    finally:
        producer.close(timeout=5)
