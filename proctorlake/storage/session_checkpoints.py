"""The stream workers' state checkpoints: pickled ``{session_id: state}`` per partition.

A frame worker checkpoints its incident aggregator (open incidents, the rules' recent
observations and face thumbnails, per session) beside its committed offsets, under
``PROCTORLAKE_HOME/run/aggregator/``. Erasure has to take one session out of every such file
while the workers keep writing them, so both sides hold the file's lock while they read or
replace it, and a replace is atomic (a crash leaves the old file or the new one).
"""

from __future__ import annotations

import pickle
from pathlib import Path

from proctorlake.core.settings import Settings
from proctorlake.storage.file_lock import exclusive_lock
from proctorlake.storage.private_files import PARTIAL_SUFFIX, write_private_file


def checkpoint_dir(settings: Settings) -> Path:
    return settings.run_dir / "aggregator"


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def write_checkpoint(path: Path, data: bytes) -> None:
    """Replace one checkpoint (the worker's side)."""
    with exclusive_lock(_lock_path(path)):
        write_private_file(path, data)


def drop_session_from_checkpoints(settings: Settings, session_id: str) -> int:
    """Rewrite every checkpoint that holds the session without it; returns how many did.

    Half-written temp files a crash left beside a checkpoint go too (they may hold it).
    """
    folder = checkpoint_dir(settings)
    if not folder.is_dir():
        return 0
    rewritten = 0
    for path in sorted(folder.glob("*.pickle")):
        with exclusive_lock(_lock_path(path)):
            for stale in folder.glob(f".{path.name}.*{PARTIAL_SUFFIX}"):
                stale.unlink(missing_ok=True)
            if not path.exists():
                continue
            sessions = pickle.loads(path.read_bytes())  # written by this installation's workers
            if session_id in sessions:
                del sessions[session_id]
                write_private_file(path, pickle.dumps(sessions, protocol=pickle.HIGHEST_PROTOCOL))
                rewritten += 1
    return rewritten
