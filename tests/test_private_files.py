"""Findings #16 and #17: owner-only modes from creation, atomic fsynced writes, damaged keys
refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings
from proctorlake.governance import keystore, signing
from proctorlake.governance.erasure.ids import student_hash
from proctorlake.storage.key_files import KeyFileCorrupt, read_or_create_key
from proctorlake.storage.object_store import LocalObjectStore
from proctorlake.storage.private_files import (
    copy_private_file,
    create_private_file_once,
    write_private_file,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Modes must not depend on the process umask (0 is the worst case)."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _created_below(root: Path) -> list[Path]:
    return [p for p in root.rglob("*")]


def test_issue16_recordings_and_id_photos_are_owner_only(tmp_path: Path, umask: int) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put_bytes("sessions/s-1/identity/id_photo.jpg", b"\xff\xd8\xff face")
    source = tmp_path / "seg.webm"
    source.write_bytes(b"\x1a\x45\xdf\xa3 video")
    store.put_file("sessions/s-1/webcam/000000000000.webm", source)
    created = _created_below(tmp_path / "objects")
    assert created
    for path in [tmp_path / "objects", *created]:
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert store.get_bytes("sessions/s-1/identity/id_photo.jpg") == b"\xff\xd8\xff face"


def test_issue16_key_files_are_owner_only_from_creation(settings: Settings, umask: int) -> None:
    read_or_create_key(settings.home / "keys" / "erasure_pepper")
    keystore.session_key(settings, "s-1")
    signing.private_key(settings)
    for path in _created_below(settings.home / "keys"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert _mode(settings.signing_key_path) == 0o600


def test_issue17_writes_are_atomic_and_leave_no_partial_files(tmp_path: Path) -> None:
    target = tmp_path / "state" / "checkpoint.pickle"
    write_private_file(target, b"first")
    write_private_file(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(FileNotFoundError):
        copy_private_file(target, tmp_path / "missing-source")
    assert target.read_bytes() == b"second"  # a failed write leaves the old bytes
    assert create_private_file_once(target, b"third") is False
    assert create_private_file_once(tmp_path / "state" / "key", b"k" * 32) is True
    assert sorted(p.name for p in target.parent.iterdir()) == ["checkpoint.pickle", "key"]


@pytest.mark.parametrize("content", [b"", b"\x01" * 16, b"\x01" * 33])
def test_issue17_truncated_key_files_are_refused_not_used_or_replaced(
    settings: Settings, content: bytes
) -> None:
    pepper = settings.home / "keys" / "erasure_pepper"
    write_private_file(pepper, content)
    with pytest.raises(KeyFileCorrupt, match=f"holds {len(content)} bytes, not 32"):
        student_hash(settings, "stu-1")  # never an HMAC under an empty or short secret
    session_key = settings.home / "keys" / "sessions" / "s-1.key"
    write_private_file(session_key, content)
    with pytest.raises(KeyFileCorrupt):
        keystore.seal(settings, "s-1", b"frame")
    assert pepper.read_bytes() == content and session_key.read_bytes() == content


def test_issue17_a_damaged_signing_key_is_refused_not_regenerated(settings: Settings) -> None:
    signing.private_key(settings)
    pem = settings.signing_key_path.read_bytes()
    write_private_file(settings.signing_key_path, pem[: len(pem) // 2])
    with pytest.raises(KeyFileCorrupt, match="restore it from a backup"):
        signing.sign_record(settings, {"a": 1})
    write_private_file(settings.signing_key_path, b"")
    with pytest.raises(KeyFileCorrupt):
        signing.private_key(settings)
    assert settings.signing_key_path.read_bytes() == b""
