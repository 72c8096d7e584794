"""Caches, scratch folders and worker state of one session.

- ``PROCTORLAKE_HOME/{cache,tmp}/<kind>/<session_id>/``: thumbnails, manifest locks, the
  scratch folders of ingest and transcoding (a crash leaves them there, never in the system
  temp folder);
- the media gateway's raw recordings (``PROCTORLAKE_HOME/gateway/recordings/<session_id>/``:
  ``.mjr`` files not yet stored as chunks, the room's metadata);
- the stream workers' checkpoints (``run/aggregator/*.pickle``): the session's entry is taken
  out of each file under the file's lock.
"""

from __future__ import annotations

import shutil

from proctorlake.core.settings import Settings
from proctorlake.storage.gateway import raw_recording_dir
from proctorlake.storage.session_checkpoints import drop_session_from_checkpoints

CACHE_ROOTS = ("cache", "tmp")


def erase_session_caches(settings: Settings, session_id: str) -> dict:
    removed = files = 0
    for root_name in CACHE_ROOTS:
        root = settings.home / root_name
        if not root.is_dir():
            continue
        for kind in root.iterdir():
            target = kind / session_id
            if kind.is_dir() and target.exists():
                files += sum(1 for p in target.rglob("*") if p.is_file()) if target.is_dir() else 1
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
                removed += 1
    raw = raw_recording_dir(settings, session_id)
    if raw.is_dir():
        files += sum(1 for p in raw.rglob("*") if p.is_file())
        shutil.rmtree(raw)
        removed += 1
    return {
        "cache_folders_removed": removed,
        "cache_files_removed": files,
        "worker_checkpoints_rewritten": drop_session_from_checkpoints(settings, session_id),
    }
