"""Each open session's accommodation and breaks, as the API's incident policy needs them.

Read from Delta once per session and kept briefly: incidents arrive every few seconds per
session and must not each read two tables. This process drops an entry as soon as it changes
one (a break, an admin's change); another API process sees the change within
``ALLOWANCE_CACHE_S``.
"""

from __future__ import annotations

import threading
import time

from proctorlake.core.accommodations import Accommodation, BreakWindow
from proctorlake.core.settings import Settings
from proctorlake.services import accommodations
from realtime.api.session_registry import ExamSession

ALLOWANCE_CACHE_S = 15.0
"""How stale another process's change may be here: shorter than any break or threshold."""


class SessionAllowances:
    """session_id -> (accommodation, break rows), loaded on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Accommodation, list[dict]]] = {}

    def accommodation(self, session: ExamSession) -> Accommodation:
        return self._entry(session)[0]

    def breaks(self, session: ExamSession) -> list[dict]:
        """The session's break rows (started_at, ended_at, ...), in order."""
        return self._entry(session)[1]

    def timeline(self, session: ExamSession) -> tuple[Accommodation, list[BreakWindow]]:
        """The accommodation and the breaks in the session's seconds (the frames' clock)."""
        accommodation, rows = self._entry(session)
        return accommodation, accommodations.break_timeline(rows, session.started_at, accommodation)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)

    def forget_all(self) -> None:
        """An admin changed an accommodation: every session may be the student's."""
        with self._lock:
            self._entries.clear()

    def _entry(self, session: ExamSession) -> tuple[Accommodation, list[dict]]:
        with self._lock:
            cached = self._entries.get(session.session_id)
        if cached is not None and time.monotonic() - cached[0] < ALLOWANCE_CACHE_S:
            return cached[1], cached[2]
        accommodation = accommodations.current_accommodation(
            self.settings, session.institution_id, session.exam_id, session.student_id
        )
        rows = accommodations.breaks_of(self.settings, session.session_id)
        with self._lock:
            self._entries[session.session_id] = (time.monotonic(), accommodation, rows)
        return accommodation, rows
