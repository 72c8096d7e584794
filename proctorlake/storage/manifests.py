"""Read-modify-write of ``sessions/{id}/manifest.json`` that is safe across processes.

The API (one process per worker, several per machine) appends uploaded segments and Dagster
adds the analysis copy of each, all to the same manifest. A lock inside one process does not
stop another process from writing in between, and the later writer would drop the earlier
one's entry. So every change goes through :func:`update_manifest`:

- local folder: an ``flock`` on a per-session lock file serialises the read and the write,
  which is a crash-safe replace (unique temp name, fsync, rename);
- S3: no lock reaches across machines, so the write is conditional on the ETag that was read
  (``If-Match``; ``If-None-Match: *`` for a new manifest) and a writer that lost the race
  reads again and re-applies its change.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from proctorlake.core.settings import Settings
from proctorlake.storage.file_lock import exclusive_lock
from proctorlake.storage.object_store import (
    LocalObjectStore,
    ObjectNotFound,
    S3ObjectStore,
    manifest_key,
)
from proctorlake.storage.private_files import write_private_file

ManifestChange = Callable[[dict | None], dict]
"""Gets the current manifest (None when there is none yet), returns the one to store; may
raise to store nothing. On S3 it may be called again after a lost race, so it must not
depend on having run once."""

S3_ATTEMPTS = 50
_LOST_RACE = ("PreconditionFailed", "ConditionalRequestConflict")


class ManifestWriteConflict(RuntimeError):
    """Other writers kept changing the manifest between this writer's read and write."""


def manifest_lock_path(settings: Settings, session_id: str) -> Path:
    """Per-session lock file, in the session's cache folder (erasure removes it)."""
    return settings.home / "cache" / "manifest-locks" / session_id / "manifest.lock"


def encode_manifest(manifest: dict) -> bytes:
    return json.dumps(manifest, indent=2).encode()


def update_manifest(settings: Settings, session_id: str, change: ManifestChange) -> dict:
    """Apply ``change`` to the session's manifest atomically; returns the manifest stored."""
    if settings.storage_backend == "s3":
        return _update_s3(S3ObjectStore(settings), session_id, change)
    store = LocalObjectStore(settings.objects_root)
    key = manifest_key(session_id)
    with exclusive_lock(manifest_lock_path(settings, session_id)):
        try:
            current = json.loads(store.get_bytes(key))
        except ObjectNotFound:
            current = None
        manifest = change(current)
        write_private_file(store.local_path(key), encode_manifest(manifest))
    return manifest


def _update_s3(store: S3ObjectStore, session_id: str, change: ManifestChange) -> dict:
    from botocore.exceptions import ClientError

    key = manifest_key(session_id)
    for attempt in range(S3_ATTEMPTS):
        try:
            got = store.client.get_object(Bucket=store.bucket, Key=key)
            current, condition = json.loads(got["Body"].read()), {"IfMatch": got["ETag"]}
        except store.client.exceptions.NoSuchKey:
            current, condition = None, {"IfNoneMatch": "*"}
        manifest = change(current)
        try:
            store.client.put_object(
                Bucket=store.bucket, Key=key, Body=encode_manifest(manifest), **condition
            )
            return manifest
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _LOST_RACE:
                raise
        time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # spread the retries out
    raise ManifestWriteConflict(f"manifest of {session_id}: {S3_ATTEMPTS} lost races in a row")


def number_chunks(chunks: list[dict]) -> None:
    """Index each track's segments in time order and note gaps for auditors (``chunks`` is
    sorted by track and start). The upload path and the gateway recorder both ask this."""
    count: dict[str, int] = {}
    previous_end: dict[str, int] = {}
    for chunk in chunks:
        track = chunk["track"]
        chunk["chunk_index"] = count.get(track, 0)
        chunk["gap_before_ms"] = max(0, chunk["chunk_start_ms"] - previous_end.get(track, 0))
        count[track] = chunk["chunk_index"] + 1
        previous_end[track] = chunk["chunk_end_ms"]
