"""Object storage: the local folder and a real S3 API server on loopback behave the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctorlake.core.settings import Settings
from proctorlake.storage.object_store import (
    LocalObjectStore,
    ObjectNotFound,
    S3ObjectStore,
    chunk_key,
    open_object_store,
)


def _round_trip(store, tmp_path: Path) -> None:
    key = chunk_key("sess-1", "webcam", 300_000, "mp4")
    assert key == "sessions/sess-1/webcam/000000300000.mp4"
    payload = bytes(range(256)) * 100
    store.put_bytes(key, payload)
    source = tmp_path / "file.bin"
    source.write_bytes(b"second object")
    store.put_file("sessions/sess-1/manifest.json", source)
    assert store.get_bytes(key) == payload
    assert store.download(key, tmp_path / "copy.mp4").read_bytes() == payload
    assert sorted(store.list("sessions/sess-1/")) == [
        "sessions/sess-1/manifest.json",
        key,
    ]
    assert store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get_bytes("sessions/nope/manifest.json")
    assert store.delete_all_versions(key) >= 1
    assert not store.exists(key)
    assert store.delete_all_versions(key) == 0


def test_local_store_round_trip(settings: Settings, tmp_path: Path) -> None:
    store = open_object_store(settings)
    assert isinstance(store, LocalObjectStore)
    _round_trip(store, tmp_path)


def test_local_store_refuses_keys_that_escape_its_root(settings: Settings) -> None:
    with pytest.raises(ValueError, match="escapes"):
        open_object_store(settings).put_bytes("../outside.txt", b"x")


def test_s3_round_trip_on_loopback_server(s3_settings: Settings, tmp_path: Path) -> None:
    store = open_object_store(s3_settings)
    assert isinstance(store, S3ObjectStore)
    _round_trip(store, tmp_path)


def test_s3_delete_removes_every_version(s3_settings: Settings) -> None:
    store = open_object_store(s3_settings)
    key = "sessions/sess-2/webcam/000000000000.webm"
    for version in (b"v1", b"v2", b"v3"):
        store.put_bytes(key, version)
    versions = store.client.list_object_versions(Bucket=store.bucket, Prefix=key)["Versions"]
    assert len(versions) == 3
    assert store.delete_all_versions(key) == 3
    left = store.client.list_object_versions(Bucket=store.bucket, Prefix=key)
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    assert store.link(key).startswith(s3_settings.s3_endpoint)
