"""Times the exam client reports (frame capture, recording start), bounded by the server clock.

The stream path orders a session's frames by their capture time and drops a frame that is
not newer than the last one as a replay. A client that claims a capture time ten years ahead
would make every later, honest frame look like a replay, so live alerts for that session stop.
A client time is therefore taken only within ``MAX_CLOCK_SKEW_MS`` of the server clock into
the future, and never before the session existed (or started).
"""

from __future__ import annotations

from realtime.api.frame_intake import FrameRejected
from realtime.api.session_registry import ExamSession

MAX_CLOCK_SKEW_MS = 120_000
"""Two minutes: an exam laptop's NTP-synced clock is off by seconds; the simulated clients of
the tests and the bench send frames up to a minute ahead of real time. A client inside the
bound can hold back its own replay check by two minutes at most."""


def _bounded(claimed_ms: int, floor_ms: int, now_ms: int, what: str) -> int:
    if claimed_ms > now_ms + MAX_CLOCK_SKEW_MS:
        raise FrameRejected(
            422,
            f"{what} is {(claimed_ms - now_ms) / 1000:.0f} s ahead of the server clock; at most "
            f"{MAX_CLOCK_SKEW_MS // 1000} s is taken: check the device's clock",
        )
    if claimed_ms < floor_ms:
        raise FrameRejected(
            422,
            f"{what} is {(floor_ms - claimed_ms) / 1000:.0f} s before the session existed; "
            "check the device's clock",
        )
    return claimed_ms


def _floor_ms(session: ExamSession) -> int:
    created_ms = int(session.created_at.timestamp() * 1000)
    return max(created_ms, session.started_at_ms or created_ms) - MAX_CLOCK_SKEW_MS


def capture_time_ms(claimed_ms: int | None, session: ExamSession, now_ms: int) -> int:
    """The capture time to record for a frame: the client's, when it is plausible."""
    if claimed_ms is None:
        return now_ms
    return _bounded(claimed_ms, _floor_ms(session), now_ms, "X-Captured-At-Ms")


def start_time_ms(claimed_ms: int | None, session: ExamSession, now_ms: int) -> int:
    """The recording start to record for a session: the client's, when it is plausible."""
    if claimed_ms is None:
        return now_ms
    created_ms = int(session.created_at.timestamp() * 1000)
    return _bounded(claimed_ms, created_ms - MAX_CLOCK_SKEW_MS, now_ms, "started_at_ms")
