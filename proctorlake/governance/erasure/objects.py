"""Erase a session's objects: recordings, manifest, identity photos, every stored version.

Keys are found by listing object *versions* under ``sessions/{session_id}/``, not the current
listing: on a versioned bucket a key deleted earlier (only a delete marker on top) still
holds readable bytes by version id and would be missed by a plain listing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from proctorlake.core.settings import Settings
from proctorlake.storage.object_store import S3ObjectStore, object_keys_for_session


def _erase_local(settings: Settings, session_id: str) -> dict:
    folder = Path(settings.objects_root) / object_keys_for_session(session_id)
    if not folder.exists():
        return {"objects_removed": 0, "versions_removed": 0}
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    return {"objects_removed": count, "versions_removed": count}


def _erase_s3(settings: Settings, session_id: str) -> dict:
    store = S3ObjectStore(settings)
    prefix = object_keys_for_session(session_id)
    keys: set[str] = set()
    versions: list[dict] = []
    markers: list[dict] = []
    paginator = store.client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=store.bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            keys.add(item["Key"])
            versions.append({"Key": item["Key"], "VersionId": item["VersionId"]})
        for item in page.get("DeleteMarkers", []):
            markers.append({"Key": item["Key"], "VersionId": item["VersionId"]})
    doomed = versions + markers  # markers last: removing one first could resurrect a version
    for start in range(0, len(doomed), 1000):
        store.client.delete_objects(
            Bucket=store.bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
        )
    left = store.client.list_object_versions(Bucket=store.bucket, Prefix=prefix)
    if left.get("Versions") or left.get("DeleteMarkers"):
        raise RuntimeError(f"objects of session {session_id} still listed after erasure")
    return {
        "objects_removed": len(keys),
        "versions_removed": len(versions),
        "delete_markers_removed": len(markers),
    }


def erase_session_objects(settings: Settings, session_id: str) -> dict:
    """Remove everything under the session's prefix; idempotent (a second call removes 0)."""
    if settings.storage_backend == "s3":
        return _erase_s3(settings, session_id)
    return _erase_local(settings, session_id)
