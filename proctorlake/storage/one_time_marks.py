"""Single-use marks kept as files until they expire: "this nonce / link was already used".

A mark is claimed by an exclusive create, so two processes (API replicas, dashboard
sessions) racing on the same key agree that only one of them won, and the refusal survives
restarts. Every mark carries its expiry; claiming prunes expired marks now and then, so the
folder holds at most the marks still inside their validity window.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

PRUNE_EVERY_S = 60.0


class OneTimeMarks:
    """Marks under ``folder``; ``claim`` returns False for a key already claimed, unexpired."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._last_prune = 0.0

    def _path(self, key: str) -> Path:
        return self.folder / hashlib.sha256(key.encode("utf-8")).hexdigest()

    def claim(self, key: str, expires_at: float) -> bool:
        """Mark ``key`` used until ``expires_at`` (epoch seconds); False if it already was.

        Callers pick ``expires_at`` past the end of whatever the key proves (a token's expiry),
        so a mark pruned after it expired can only be claimed again by something already
        refused for its age.
        """
        now = time.time()
        self.folder.mkdir(parents=True, exist_ok=True)
        if now - self._last_prune >= PRUNE_EVERY_S:
            self.prune(now)
        path = self._path(key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        tmp.write_text(repr(float(expires_at)))
        try:
            os.link(tmp, path)  # atomic create-if-absent, content already in place
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> int:
        """Remove expired marks; returns how many went."""
        now = time.time() if now is None else now
        self._last_prune = now
        removed = 0
        if not self.folder.is_dir():
            return 0
        for path in self.folder.iterdir():
            if path.suffix != ".partial" and self._expiry(path) <= now:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def count(self) -> int:
        """Marks held now (expired ones included until the next prune)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.iterdir() if p.suffix != ".partial")

    @staticmethod
    def _expiry(path: Path) -> float:
        try:
            return float(path.read_text() or 0)
        except (OSError, ValueError):
            return 0.0  # unreadable: treat as expired


def marks_folder(home: Path, kind: str) -> Path:
    """Where marks of one kind live (``nonces``, ``lti-states``, ``sign-in-links``)."""
    return Path(home) / "one_time" / kind


def claim_once(home: Path, kind: str, key: str, expires_at: float) -> bool:
    """``OneTimeMarks(marks_folder(home, kind)).claim(key, expires_at)``, for one-off callers."""
    return OneTimeMarks(marks_folder(home, kind)).claim(key, expires_at)
