"""Ed25519 signatures over audit records (identity verifications, erasure certificates).

A record is signed over its canonical JSON (sorted keys, no spaces, UTF-8), so anyone with
the public key can check a stored row or a certificate without ProctorLake's code. The
private key is created on first use at ``settings.signing_key_path`` (inside
``PROCTORLAKE_HOME`` by default) with owner-only permissions.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from proctorlake.core.settings import Settings
from proctorlake.storage.key_files import KeyFileCorrupt
from proctorlake.storage.private_files import create_private_file_once


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")


def canonical_bytes(record: dict) -> bytes:
    """The exact bytes that are signed: canonical JSON of the record."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def _load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        create_private_file_once(path, pem)  # concurrent first users agree on one key
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise KeyFileCorrupt(
            f"signing key {path} is damaged ({exc}); restore it from a backup (it is not "
            "replaced: certificates signed with it would no longer verify)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileCorrupt(f"{path} is not an Ed25519 private key")
    return key


def private_key(settings: Settings) -> Ed25519PrivateKey:
    """The installation's signing key, generated on first use."""
    return _load_or_create_private_key(settings.signing_key_path)


def public_key_pem(settings: Settings) -> str:
    """The public half as PEM (SubjectPublicKeyInfo), for publishing and offline checks."""
    return (
        private_key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign_record(settings: Settings, record: dict) -> str:
    """Base64url signature (no padding) of the record's canonical JSON."""
    signature = private_key(settings).sign(canonical_bytes(record))
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def _public_key(source: Settings | Ed25519PublicKey | str | bytes) -> Ed25519PublicKey:
    if isinstance(source, Ed25519PublicKey):
        return source
    if isinstance(source, Settings):
        return private_key(source).public_key()
    pem = source.encode("ascii") if isinstance(source, str) else source
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_record(
    settings_or_public_key: Settings | Ed25519PublicKey | str | bytes,
    record: dict,
    signature: str,
) -> bool:
    """True when ``signature`` is a valid signature of ``record``; False for any mismatch.

    Accepts the settings (the local key), a public key object, or a public key PEM.
    """
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        _public_key(settings_or_public_key).verify(raw, canonical_bytes(record))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
