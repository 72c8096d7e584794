"""Session rows written at the same moment share Delta commits, and nobody waits on a lock
held across I/O: fifty sessions starting in one second must not queue behind fifty merges."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import kafka_io, lake
from realtime.api.group_commit import GroupCommit
from realtime.api.session_registry import SessionRegistry
from tests.fixtures.waiting import wait_until


def _queued(group: GroupCommit, count: int) -> None:
    """Until ``count`` writers wait behind the commit in progress (the state, not a sleep)."""
    wait_until(
        lambda: len(group._queued) >= count,  # noqa: SLF001 - the state the test waits on
        10,
        lambda: f"{count} writers queued ({len(group._queued)})",  # noqa: SLF001
        interval_s=0.005,
    )


def test_concurrent_writes_share_commits_and_each_row_lands_once() -> None:
    committed: list[list[dict]] = []
    entered, release = threading.Event(), threading.Event()

    def slow_commit(rows):
        committed.append(list(rows))
        entered.set()
        assert release.wait(10), "the test never let the first commit finish"

    group = GroupCommit(slow_commit, key=lambda row: row["id"])
    with ThreadPoolExecutor(max_workers=40) as pool:
        writes = [pool.submit(group.write, {"id": i}) for i in range(40)]
        assert entered.wait(10), "no writer started a commit"
        # every writer not in the first commit arrives while it runs (a state, not a sleep)
        wait_until(
            lambda: len(committed[0]) + len(group._queued) == 40,  # noqa: SLF001
            10,
            lambda: (
                f"40 writers in or behind the first commit: {len(committed[0])} in it, "
                f"{len(group._queued)} queued"
            ),  # noqa: SLF001
            interval_s=0.005,
        )
        release.set()
        for write in writes:
            write.result(timeout=10)
    ids = sorted(row["id"] for rows in committed for row in rows)
    assert ids == list(range(40))
    assert group.commits == len(committed) <= 2  # the first, then the whole queue in one


def test_a_later_write_of_the_same_key_wins_within_a_commit() -> None:
    committed: list[list[dict]] = []
    entered, gate = threading.Event(), threading.Event()

    def commit(rows):
        entered.set()
        gate.wait(5)
        committed.append(list(rows))

    group = GroupCommit(commit, key=lambda row: row["id"])
    first = threading.Thread(target=group.write, args=({"id": "a", "v": 0},))
    first.start()
    assert entered.wait(5), "the first write never started its commit"
    # the first write is committing; these two queue behind it, in this order
    second = threading.Thread(target=group.write, args=({"id": "b", "v": 1},))
    second.start()
    _queued(group, 1)
    third = threading.Thread(target=group.write, args=({"id": "b", "v": 2},))
    third.start()
    _queued(group, 2)
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
