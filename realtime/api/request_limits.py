"""Per-token request rates and per-token event-stream slots (security review #7, #11).

A student's requests are counted per session (all its tokens share one bucket), staff per
token. The token bucket refills at the token's rate up to ``request_burst``; an empty bucket
answers 429 with the seconds until the next request fits. Event streams are counted per
token, so one leaked or buggy page cannot hold the process's memory with streams.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from proctorlake.core.settings import Settings
from realtime.api.auth import TokenClaims
from realtime.api.bounded_cache import BoundedLru


class RateLimited(RuntimeError):
    """Too many requests, or too many open streams; ``retry_after_s`` says when to retry."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key; at most ``cap`` keys are remembered (idle ones are forgotten)."""

    def __init__(self, burst: int, cap: int) -> None:
        self.burst = burst
        self._buckets: BoundedLru[str, _Bucket] = BoundedLru(cap)
        self._lock = threading.Lock()

    def spend(self, key: str, rate_per_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(key, lambda: _Bucket(float(self.burst), now))
        with self._lock:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * rate_per_s)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait_s = (1 - bucket.tokens) / rate_per_s
        raise RateLimited(f"more than {rate_per_s:g} requests/s; slow down", max(1, round(wait_s)))

    def forget(self, key: str) -> None:
        self._buckets.pop(key)


class StreamSlots:
    """Open event streams per token, at most ``per_token`` at once."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> Callable[[], None]:
        """Take a slot (429 when the token has none left); returns its idempotent release."""
        with self._lock:
            if self._open.get(key, 0) >= self.per_token:
                raise RateLimited(
                    f"this token already holds {self.per_token} open event streams", 5
                )
            self._open[key] = self._open.get(key, 0) + 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                left = self._open[key] - 1
                if left:
                    self._open[key] = left
                else:
                    del self._open[key]

        return release

    def open_count(self, key: str) -> int:
        with self._lock:
            return self._open.get(key, 0)


class RequestLimits:
    """The API process's request budget for every token."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.buckets = TokenBuckets(settings.request_burst, settings.session_cache_cap)
        self.streams = StreamSlots(settings.sse_streams_per_token)

    def spend(self, claims: TokenClaims) -> None:
        if claims.role == "student":
            self.buckets.spend(f"session:{claims.session_id}", self.settings.student_requests_per_s)
        else:
            self.buckets.spend(f"token:{claims.jti}", self.settings.staff_requests_per_s)

    def forget_session(self, session_id: str) -> None:
        self.buckets.forget(f"session:{session_id}")
