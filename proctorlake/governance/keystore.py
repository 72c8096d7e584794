"""Per-session encryption keys for records that carry personal data (crypto-shredding).

Kafka keeps log segments until retention runs out and compaction cannot remove a record
from an older segment on demand, so records with personal data (frames, session and proctor
events) are sealed with a key that belongs to their exam session. GDPR erasure destroys the
key: every copy of those records, in any segment, replica or backup, becomes unreadable at
once. Keys live under ``PROCTORLAKE_HOME/keys/sessions`` locally; a deployment points
``PROCTORLAKE_HOME`` (or this module's root) at a KMS-backed volume.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proctorlake.core.ids import check_id
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.storage.key_files import read_or_create_key
from proctorlake.storage.private_files import make_private_dirs

_NONCE_BYTES = 12
_MAGIC = b"PLK1"


class KeyErased(LookupError):
    """The session's key was destroyed by an erasure: its sealed records are unreadable."""


def _key_dir(settings: Settings) -> Path:
    return settings.home / "keys" / "sessions"


def _key_path(settings: Settings, session_id: str) -> Path:
    return _key_dir(settings) / f"{check_id('session id', session_id)}.key"


def _erased_marker(settings: Settings, session_id: str) -> Path:
    return erased_sessions.marker_path(settings, session_id)


def session_key(settings: Settings, session_id: str) -> bytes:
    """The session's key, created on first use; raises KeyErased once destroyed."""
    path = _key_path(settings, session_id)
    if _erased_marker(settings, session_id).exists():
        raise KeyErased(session_id)
    return read_or_create_key(path, nbytes=32)  # AES-256


def seal(settings: Settings, session_id: str, plaintext: bytes) -> bytes:
    """Encrypt a record payload with the session's key (AES-256-GCM, session id as AAD)."""
    nonce = os.urandom(_NONCE_BYTES)
    body = AESGCM(session_key(settings, session_id)).encrypt(nonce, plaintext, session_id.encode())
    return _MAGIC + nonce + body


def unseal(settings: Settings, session_id: str, sealed: bytes) -> bytes:
    """Decrypt a payload sealed by :func:`seal`; raises KeyErased after erasure."""
    if not sealed.startswith(_MAGIC):
        raise ValueError("not a sealed ProctorLake record")
    if (
        _erased_marker(settings, session_id).exists()
        or not _key_path(settings, session_id).exists()
    ):
        raise KeyErased(session_id)
    nonce = sealed[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
    body = sealed[len(_MAGIC) + _NONCE_BYTES :]
    return AESGCM(session_key(settings, session_id)).decrypt(nonce, body, session_id.encode())


def destroy_session_key(settings: Settings, session_id: str) -> bool:
    """Overwrite and delete the key, leaving a marker so it is never re-created.

    Returns True if a key existed. Idempotent.
    """
    path = _key_path(settings, session_id)
    marker = _erased_marker(settings, session_id)
    make_private_dirs(marker.parent)
    marker.touch()
    if not path.exists():
        return False
    with open(path, "r+b") as handle:
        handle.write(os.urandom(len(path.read_bytes())))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    return True
