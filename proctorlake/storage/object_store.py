"""Object storage for recordings and manifests: a local folder, or any S3 API endpoint.

Keys follow ``sessions/{session_id}/{track}/{chunk_start_ms}.{ext}``; see ``object_keys``.
Both backends expose the same small interface so every room (ingest, Spark executors, the
realtime upload, erasure) works unchanged against either.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from proctorlake.core.ids import check_id
from proctorlake.core.settings import Settings
from proctorlake.storage.private_files import (
    PARTIAL_SUFFIX,
    copy_private_file,
    write_private_file,
)


class ObjectNotFound(KeyError):
    """Raised when a key does not exist in the store."""


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def delete_all_versions(self, key: str) -> int: ...
    def link(self, key: str, expires_s: int = 3600) -> str: ...


def object_keys_for_session(session_id: str) -> str:
    """The prefix that holds every object of one session (refuses a malformed id: a ``..``
    here would name the whole store)."""
    return f"sessions/{check_id('session id', session_id)}/"


def chunk_key(session_id: str, track: str, chunk_start_ms: int, ext: str) -> str:
    check_id("track", track)
    if chunk_start_ms < 0 or "/" in ext:
        raise ValueError(f"bad chunk key part: start {chunk_start_ms}, extension {ext!r}")
    return f"{object_keys_for_session(session_id)}{track}/{chunk_start_ms:012d}.{ext}"


LIVE_THUMBNAIL_EVERY_S = 4.0
"""The live thumbnail is rewritten at most this often: the proctor page refreshes thumbnails
every 5 s, a fresher one would never be seen. Both writers (the API's frame intake, the
gateway sampler) ask this."""


def live_thumbnail_key(session_id: str) -> str:
    """The session's latest webcam frame for the proctor page: in the store, not on one API
    host's disk, so every API process serves it (erasure removes it with the session)."""
    return f"{object_keys_for_session(session_id)}live/thumbnail.jpg"


def manifest_key(session_id: str) -> str:
    return f"{object_keys_for_session(session_id)}manifest.json"


def check_key(key: str) -> str:
    """A relative key made of plain segments: no empty, ``.`` or ``..`` segment, no ``\\``."""
    parts = key.split("/")
    if "\\" in key or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise ValueError(f"malformed object key {key!r}: it escapes the store or skips a level")
    return key


class LocalObjectStore:
    """Objects as plain files under one root folder (the local default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    # Objects are recordings, ID photos and manifests of students: owner-only (0600 files,
    # 0700 folders) from creation, and replaced atomically, so readers never see half an object.
    def put_bytes(self, key: str, data: bytes) -> None:
        write_private_file(self._path(key), data)

    def put_file(self, key: str, path: Path) -> None:
        copy_private_file(self._path(key), path)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def download(self, key: str, path: Path) -> Path:
        source = self._path(key)
        if not source.exists():
            raise ObjectNotFound(key)
        shutil.copyfile(source, path)
        return path

    def local_path(self, key: str) -> Path:
        """Direct path for readers on the same machine (no copy)."""
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root
        start = self._path(prefix) if prefix.endswith("/") else self._path(prefix).parent
        if not start.exists():
            return
        for path in sorted(start.rglob("*")):
            if path.is_file() and not path.name.endswith(PARTIAL_SUFFIX):
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    yield key

    def delete_all_versions(self, key: str) -> int:
        path = self._path(key)
        if path.exists():
            path.unlink()
            return 1
        return 0

    def link(self, key: str, expires_s: int = 3600) -> str:
        return self._path(key).as_uri()


class S3ObjectStore:
    """Objects in an S3 API bucket through boto3; versioned buckets are handled on delete."""

    def __init__(self, settings: Settings) -> None:
        import boto3

        self.bucket = settings.s3_bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
        )

    def ensure_bucket(self, versioned: bool = False) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            self.client.create_bucket(Bucket=self.bucket)
        if versioned:
            self.client.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, check_key(key))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectNotFound(key) from exc

    def download(self, key: str, path: Path) -> Path:
        if not self.exists(key):
            raise ObjectNotFound(key)
        self.client.download_file(self.bucket, key, str(path))
        return path

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=check_key(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"]

    def delete_all_versions(self, key: str) -> int:
        """Delete every version and delete marker of ``key``; returns how many went."""
        removed = 0
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=check_key(key)):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if item["Key"] != key:
                    continue
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=item["VersionId"])
                removed += 1
        if removed == 0 and self.exists(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)
            removed = 1
        return removed

    def link(self, key: str, expires_s: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )


def object_exists(settings: Settings, key: str) -> bool:
    return open_object_store(settings).exists(key)


def open_object_store(settings: Settings) -> ObjectStore:
    """The store the settings name: ``local`` (default) or ``s3``."""
    if settings.storage_backend == "s3":
        return S3ObjectStore(settings)
    if settings.storage_backend != "local":
        raise ValueError(f"unknown PROCTORLAKE_STORAGE {settings.storage_backend!r}")
    return LocalObjectStore(settings.objects_root)
