"""realtime/api/group_commit.py: concurrent writers share commits and all hear of failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from realtime.api.group_commit import GroupCommit


class Recorder:
    """A commit function that can hold the first commit until the test lets it go."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[dict]] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, rows: Sequence[dict]) -> None:
        self.entered.set()
        self.release.wait(timeout=10)
        self.batches.append(list(rows))
        if self.fail:
            raise RuntimeError("delta said no")


def _queued(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group._queued) < count:  # noqa: SLF001 - the state the test waits on
        assert time.monotonic() < deadline, "writers never queued"
        time.sleep(0.005)


def test_a_lone_write_commits_its_row_once():
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder, key=lambda r: r["id"])
    group.write({"id": 1})
    assert recorder.batches == [[{"id": 1}]] and group.commits == 1


def test_rows_queued_during_a_commit_share_the_next_one_and_the_last_write_of_a_key_wins():
    recorder = Recorder()
    group = GroupCommit(recorder, key=lambda r: r["id"])
    first = threading.Thread(target=group.write, args=({"id": 0},))
    first.start()
    assert recorder.entered.wait(10)
    waiters = [
        threading.Thread(target=group.write, args=(row,))
        for row in ({"id": 1, "v": "a"}, {"id": 2}, {"id": 1, "v": "b"})
    ]
    for waiter in waiters:
        waiter.start()
        _queued(group, waiters.index(waiter) + 1)
    recorder.release.set()
    for thread in (first, *waiters):
        thread.join(10)
    assert recorder.batches == [[{"id": 0}], [{"id": 1, "v": "b"}, {"id": 2}]]
    assert group.commits == 2


def test_every_writer_of_a_failed_commit_gets_its_error_and_the_next_write_works():
    recorder = Recorder(fail=True)
    group = GroupCommit(recorder, key=lambda r: r["id"])
    errors: list[BaseException] = []

    def write(row: dict) -> None:
        try:
            group.write(row)
        except RuntimeError as exc:
            errors.append(exc)

    first = threading.Thread(target=write, args=({"id": 0},))
    first.start()
    assert recorder.entered.wait(10)
    second = threading.Thread(target=write, args=({"id": 1},))
    second.start()
    _queued(group, 1)
    recorder.release.set()
    first.join(10)
    second.join(10)
    assert [str(e) for e in errors] == ["delta said no", "delta said no"]
    assert group.commits == 0
    recorder.fail = False
    group.write({"id": 2})
    assert group.commits == 1


def test_a_failure_is_raised_in_the_writing_thread():
    recorder = Recorder(fail=True)
    recorder.release.set()
    with pytest.raises(RuntimeError, match="delta said no"):
        GroupCommit(recorder, key=lambda r: r["id"]).write({"id": 1})
