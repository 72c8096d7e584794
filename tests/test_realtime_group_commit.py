"""Session rows written at the same moment share Delta commits, and nobody waits on a lock
held across I/O: fifty sessions starting in one second must not queue behind fifty merges."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import kafka_io, lake
from realtime.api.group_commit import GroupCommit
from realtime.api.session_registry import SessionRegistry


def test_concurrent_writes_share_commits_and_each_row_lands_once() -> None:
    committed: list[list[dict]] = []

    def slow_commit(rows):
        time.sleep(0.05)
        committed.append(list(rows))

    group = GroupCommit(slow_commit, key=lambda row: row["id"])
    with ThreadPoolExecutor(max_workers=40) as pool:
        list(pool.map(lambda i: group.write({"id": i}), range(40)))
    ids = sorted(row["id"] for rows in committed for row in rows)
    assert ids == list(range(40))
    assert 2 <= group.commits <= 10, group.commits  # the first alone, then the queue


def test_a_later_write_of_the_same_key_wins_within_a_commit() -> None:
    committed: list[list[dict]] = []
    gate = threading.Event()

    def commit(rows):
        gate.wait(5)
        committed.append(list(rows))

    group = GroupCommit(commit, key=lambda row: row["id"])
    first = threading.Thread(target=group.write, args=({"id": "a", "v": 0},))
    first.start()
    time.sleep(0.1)  # the first write is committing; these two queue behind it
    second = threading.Thread(target=group.write, args=({"id": "b", "v": 1},))
    second.start()
    time.sleep(0.05)
    third = threading.Thread(target=group.write, args=({"id": "b", "v": 2},))
    third.start()
    time.sleep(0.05)
    gate.set()
    for thread in (first, second, third):
        thread.join(5)
    assert committed == [[{"id": "a", "v": 0}], [{"id": "b", "v": 2}]]


def test_a_failed_commit_reaches_every_writer_in_it_and_the_next_one_works() -> None:
    calls = []

    def commit(rows):
        calls.append(list(rows))
        if len(calls) == 1:
            raise OSError("disk full")

    group = GroupCommit(commit, key=lambda row: row["id"])
    with pytest.raises(OSError, match="disk full"):
        group.write({"id": 1})
    group.write({"id": 2})
    assert calls == [[{"id": 1}], [{"id": 2}]]
    assert group.commits == 1


def test_sessions_starting_together_land_in_few_delta_commits(kafka_settings: Settings) -> None:
    producer = kafka_io.make_producer(kafka_settings)
    try:
        registry = SessionRegistry(kafka_settings, producer)
        sessions = [registry.create("exam-g", f"stu-{i}", "inst-g") for i in range(30)]
        version_before = lake.open_table(kafka_settings, schemas.EXAM_SESSIONS.name).version()
        started = dt.datetime.now(dt.UTC)
        with ThreadPoolExecutor(max_workers=30) as pool:
            list(pool.map(lambda s: registry.start(s.session_id, started), sessions))
        # a second start of the same session changes nothing (the first start wins)
        assert registry.start(sessions[0].session_id, dt.datetime.now(dt.UTC)).started_at == (
            started
        )
    finally:
        producer.close(timeout=5)
    table = lake.open_table(kafka_settings, schemas.EXAM_SESSIONS.name)
    rows = [r for r in table.to_pyarrow_table().to_pylist() if r["exam_id"] == "exam-g"]
    assert len(rows) == 30
    assert {r["status"] for r in rows} == {"active"}
    assert {r["started_at"] for r in rows} == {started}
    commits = table.version() - version_before
    assert 1 <= commits < 30, commits
