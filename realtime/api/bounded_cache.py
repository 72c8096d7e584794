"""A thread-safe dict that forgets its least recently used entries past a cap.

Per-session state in an API process (rate buckets, thumbnails' timers, ended sessions) must
not grow with every session ever served; the cap bounds it whatever the traffic.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedLru(Generic[K, V]):
    """Least-recently-used mapping of at most ``cap`` entries."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("a cache needs room for at least one entry")
        self.cap = cap
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.cap:
                self._items.popitem(last=False)

    def setdefault(self, key: K, factory: Callable[[], V]) -> V:
        with self._lock:
            if key not in self._items:
                self._items[key] = factory()
                while len(self._items) > self.cap:
                    self._items.popitem(last=False)
            self._items.move_to_end(key)
            return self._items[key]

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
