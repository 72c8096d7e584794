"""Keep a Kafka client loop alive across broker restarts and network drops.

Each stream-path process (frame workers, lander) commits offsets only after its output is
durable, so the safe answer to any failure is to drop the clients, wait, rebuild them and
resume from the last committed offsets: the batch in hand is simply processed again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 2.0


class Loop(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Loop)


def run_until_stopped(
    build: Callable[[], T],
    step: Callable[[T], object],
    stop: threading.Event,
    retry_pause_s: float = RETRY_PAUSE_S,
) -> None:
    """``step(loop)`` until ``stop``; on any failure close the loop and build a new one."""
    while not stop.is_set():
        try:
            loop = build()
        except Exception as exc:  # the broker is not reachable yet
            log.warning("cannot reach the broker (%s); retrying", exc)
            stop.wait(retry_pause_s)
            continue
        try:
            while not stop.is_set():
                step(loop)
        except Exception:
            log.exception("stream loop failed; rebuilding it from the last commit")
            stop.wait(retry_pause_s)
        finally:
            try:
                loop.close()
            except Exception as exc:
                log.warning("closing the failed loop: %s", exc)
