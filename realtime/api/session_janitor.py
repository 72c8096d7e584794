"""The API's janitor: sweeps the session registry every few seconds (expiry, eviction)."""

from __future__ import annotations

import logging
import threading

from realtime.api.session_registry import SessionRegistry

log = logging.getLogger(__name__)


def sweep_interval_s(registry: SessionRegistry) -> float:
    """Often enough to honour the shortest configured timeout within about a quarter of it."""
    settings = registry.settings
    shortest = min(settings.session_idle_timeout_s, settings.ended_session_grace_s)
    return max(0.5, min(30.0, shortest / 4))


class SessionJanitor(threading.Thread):
    def __init__(self, registry: SessionRegistry) -> None:
        super().__init__(name="session-janitor", daemon=True)
        self.registry = registry
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        interval = sweep_interval_s(self.registry)
        while not self._halt.wait(interval):
            try:
                expired, evicted = self.registry.sweep()
            except Exception:  # a failed sweep (broker down) is retried on the next tick
                log.exception("session sweep failed")
                continue
            if expired or evicted:
                log.info("expired %d idle sessions, evicted %d ended", len(expired), len(evicted))
