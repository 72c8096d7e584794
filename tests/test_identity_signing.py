"""Ed25519 record signing: round trip, tamper detection, key persistence, PEM verification."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

from proctorlake.core.settings import load_settings
from proctorlake.governance.signing import public_key_pem, sign_record, verify_record


def _record() -> dict:
    return {
        "institution_id": "uni-1",
        "exam_id": "exam-9",
        "student_id": "s-42",
        "similarity_score": 0.8125,
        "verified_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    }


def test_signature_round_trip_and_tamper(settings) -> None:
    record = _record()
    signature = sign_record(settings, record)
    assert verify_record(settings, record, signature)
    assert verify_record(public_key_pem(settings), record, signature)

    tampered = dict(record, similarity_score=0.99)
    assert not verify_record(settings, tampered, signature)
    assert not verify_record(settings, record, signature[:-4] + "AAAA")
    assert not verify_record(settings, record, "not base64 !!")


def test_key_created_once_in_home_with_owner_only_mode(settings) -> None:
    assert not settings.signing_key_path.exists()
    signature = sign_record(settings, _record())
    path = settings.signing_key_path
    assert path.is_relative_to(settings.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A fresh settings snapshot (a restart) reuses the same key.
    assert verify_record(load_settings(), _record(), signature)


def test_other_installation_key_rejects(settings, tmp_path, monkeypatch) -> None:
    signature = sign_record(settings, _record())
    monkeypatch.setenv("PROCTORLAKE_HOME", str(tmp_path / "other"))
    other = load_settings()
    assert not verify_record(other, _record(), signature)
    assert verify_record(public_key_pem(settings), _record(), signature)
