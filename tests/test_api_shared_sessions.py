"""Two session registries on one home, as two API processes see it: transitions are decided
on the shared row, not on either cache; activity seen by one keeps the other from expiring
the session."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import pytest

from proctorlake.storage import kafka_io
from realtime.api.session_registry import SessionClosed, SessionRegistry


@pytest.fixture
def two_registries(kafka_settings) -> Iterator[tuple[SessionRegistry, SessionRegistry]]:
    settings = dataclasses.replace(kafka_settings, session_idle_timeout_s=600)
    producer = kafka_io.make_producer(settings)
    try:
        yield SessionRegistry(settings, producer), SessionRegistry(settings, producer)
    finally:
        producer.close(timeout=5)


def test_the_first_start_and_the_first_end_win_in_every_process(two_registries):
    a, b = two_registries
    session = a.create("exam-1", "stu-1", "inst-a")
    sid = session.session_id
    assert b.get(sid).started_at is None  # B has it cached, not started
    first = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    a.start(sid, first)
    # B's cache still says "not started": its start must not move the session's clock.
    assert b.start(sid, first + dt.timedelta(minutes=5)).started_at == first
    ended = a.end(sid)
    assert b.end(sid, status="terminated") == ended  # ended once, as A ended it
    with pytest.raises(SessionClosed):
        b.start(sid, first)


def test_a_session_refreshed_from_its_row_is_listed_as_it_is(two_registries):
    a, b = two_registries
    sid = a.create("exam-1", "stu-1", "inst-a").session_id
    assert sid not in {s.session_id for s in b.open_sessions("inst-a")}
    b.refresh(sid)  # what B's topic follower does on the "created" event
    assert sid in {s.session_id for s in b.open_sessions("inst-a")}
    a.end(sid)
    b.refresh(sid)  # ... and on the "ended" event
    assert sid not in {s.session_id for s in b.open_sessions("inst-a")}


def test_uploads_through_one_process_keep_the_other_from_expiring_the_session(two_registries):
    a, b = two_registries
    sid = a.create("exam-1", "stu-1", "inst-a").session_id
    b.get(sid)
    a.touch(sid)  # an upload through A
    idle_long_after = time.monotonic() + a.settings.session_idle_timeout_s + 1
    assert b.sweep(idle_long_after) == ([], [])  # B heard nothing, but A did
    assert b.get(sid).is_open
    silent = a.create("exam-1", "stu-2", "inst-a").session_id  # no process heard from it
    b.get(silent)
    assert b.sweep(idle_long_after)[0] == [silent]
