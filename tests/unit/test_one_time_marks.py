"""Single-use marks: a second claim is refused, expired marks are pruned."""

from __future__ import annotations

import time

from proctorlake.storage.one_time_marks import OneTimeMarks


def test_second_claim_is_refused_and_expired_marks_are_pruned(tmp_path) -> None:
    marks = OneTimeMarks(tmp_path / "marks")
    now = time.time()
    assert marks.claim("nonce-1", now + 60)
    assert not marks.claim("nonce-1", now + 60)
    assert OneTimeMarks(tmp_path / "marks").claim("nonce-1", now + 60) is False  # any process
    assert marks.claim("nonce-2", now - 1)  # already expired: kept until the next prune
    assert marks.count() == 2
    assert marks.prune() == 1
    assert marks.count() == 1 and not marks.claim("nonce-1", now + 60)
