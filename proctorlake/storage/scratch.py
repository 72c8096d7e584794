"""Scratch folders for work on one session's media, where erasure can find them.

A folder in the system temp directory that a crash leaves behind holds a session's video with
nothing to tie it to the session. Scratch space lives under
``PROCTORLAKE_HOME/tmp/<kind>/<session_id>/`` instead: removed when the work ends, and
removed by erasure (with the session's caches) when a crash left it there.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from proctorlake.core.settings import Settings

SCRATCH_ROOT = "tmp"


def session_scratch_dir(settings: Settings, kind: str, session_id: str) -> Path:
    """The folder that holds every scratch folder of ``kind`` for the session."""
    if not session_id or "/" in session_id or session_id in (".", ".."):
        raise ValueError(f"malformed session id {session_id!r}")
    return settings.home / SCRATCH_ROOT / kind / session_id


@contextmanager
def session_scratch(settings: Settings, kind: str, session_id: str) -> Iterator[Path]:
    """A fresh folder for the block (several may run at once), removed afterwards."""
    parent = session_scratch_dir(settings, kind, session_id)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with suppress(OSError):
            parent.rmdir()  # only when no other scratch folder of the session is in use
