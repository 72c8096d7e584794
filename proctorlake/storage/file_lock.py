"""Advisory file locks (``flock``), the one way processes on this machine take turns."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def _flock(lock_path: Path, mode: int) -> Iterator[None]:
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def exclusive_lock(lock_path: Path) -> AbstractContextManager[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created with its folder) for the block."""
    return _flock(lock_path, fcntl.LOCK_EX)


def shared_lock(lock_path: Path) -> AbstractContextManager[None]:
    """Hold a shared ``flock``: many holders at once, none while an exclusive one is held."""
    return _flock(lock_path, fcntl.LOCK_SH)
