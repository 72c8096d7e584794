"""Governance rules that need no lake: retention policy files, lifecycle rules, legal hold
refusals, signed records and erasure certificates (with a key in a temp folder)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings, load_settings
from proctorlake.governance import signing
from proctorlake.governance.erasure.certificate import (
    CERTIFICATE_TYPE,
    Certificate,
    load_certificate_file,
    sign_certificate,
    verify_certificate,
)
from proctorlake.governance.legal_holds import HoldError, place_hold, release_hold
from proctorlake.governance.retention import ExpiredSession, session_end
from proctorlake.governance.retention_policy import (
    RetentionPolicy,
    RetentionPolicyError,
    load_retention_policy,
)
from proctorlake.governance.storage_policy import lifecycle_rules, retention_tag_value

UTC = dt.UTC


def _settings(home: Path, **env: str) -> Settings:
    return load_settings({"PROCTORLAKE_HOME": str(home), **env})


def _policy_file(home: Path, data: object) -> Settings:
    path = home / "retention_policy.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return _settings(home)


# --- retention -------------------------------------------------------------------------------


def test_without_a_policy_file_every_institution_keeps_the_default(tmp_path: Path):
    policy = load_retention_policy(_settings(tmp_path, PROCTORLAKE_RETENTION_DAYS="400"))
    assert policy == RetentionPolicy(400)
    assert policy.days_for("anyone") == 400


def test_the_policy_file_overrides_per_institution(tmp_path: Path):
    settings = _policy_file(tmp_path, {"institutions": {"uni-north": {"retention_days": 1095}}})
    policy = load_retention_policy(settings)
    assert (policy.days_for("uni-north"), policy.days_for("uni-south")) == (1095, 730)
    assert policy.periods() == [730, 1095]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"institutions": {"u": {"retention_days": 0}}}, "positive whole number"),
        ({"institutions": {"u": {"retention_days": "30"}}}, "positive whole number"),
        ({"institutions": {"u": {"retention_days": True}}}, "positive whole number"),
        ({"institutions": ["u"]}, "not a retention policy"),
        ("{not json", "not a retention policy"),
    ],
)
def test_a_bad_policy_file_is_refused_with_its_path(tmp_path: Path, content, message):
    with pytest.raises(RetentionPolicyError, match=message) as caught:
        load_retention_policy(_policy_file(tmp_path, content))
    assert "retention_policy.json" in str(caught.value)


def test_the_retention_clock_starts_at_the_last_known_moment():
    created, started, ended = (dt.datetime(2026, 1, 1, h, tzinfo=UTC) for h in (8, 9, 10))
    assert session_end({"created_at": created, "started_at": started, "ended_at": ended}) == ended
    assert session_end({"created_at": created, "started_at": started, "ended_at": None}) == started
    assert session_end({"created_at": None, "started_at": None, "ended_at": None}) is None
    expired = ExpiredSession("s", "u", ended, 30)
    assert expired.expired_at == dt.datetime(2026, 1, 31, 10, tzinfo=UTC)


def test_lifecycle_has_one_expiry_rule_per_period_tagged_like_the_objects():
    policy = RetentionPolicy(730, {"uni-north": 1095, "uni-east": 730})
    expiries = [r for r in lifecycle_rules(policy) if "Expiration" in r]
    tags = [r["Filter"]["And"]["Tags"][0]["Value"] for r in expiries]
    assert tags == ["730d", "1095d"]
    assert tags[1] == retention_tag_value(policy, "uni-north", held=False)
    assert retention_tag_value(policy, "uni-north", held=True) == "hold"  # no rule expires it
    assert all(r["Expiration"]["Days"] > int(t[:-1]) for r, t in zip(expiries, tags, strict=True))


# --- legal holds: refused before anything is read or written ---------------------------------


@pytest.mark.parametrize(
    ("reason", "actor", "message"),
    [
        ("  ", "alice", "reason is required"),
        ("x" * 501, "alice", "longer than 500"),
        ("case 42", " ", "must be named"),
    ],
)
def test_a_hold_needs_a_reason_and_an_actor(tmp_path: Path, reason, actor, message):
    with pytest.raises(HoldError, match=message):
        place_hold(_settings(tmp_path), "s-1", reason, actor)
    assert not (tmp_path / "lake").exists()


def test_a_malformed_session_id_cannot_be_released(tmp_path: Path):
    with pytest.raises(HoldError, match="session id .* is malformed"):
        release_hold(_settings(tmp_path), "../etc", "case 42", "alice")


# --- signed records and certificates --------------------------------------------------------


def test_canonical_bytes_ignore_key_order_and_write_times_as_iso():
    at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert signing.canonical_bytes({"b": 1, "a": at}) == signing.canonical_bytes({"a": at, "b": 1})
    assert signing.canonical_bytes({"a": at}) == b'{"a":"2026-01-02T03:04:00+00:00"}'
    with pytest.raises(TypeError):
        signing.canonical_bytes({"a": object()})


def _body() -> dict:
    return {"type": CERTIFICATE_TYPE, "request_id": "E-1", "removed": {"incidents": 3}}


def test_a_certificate_verifies_against_its_key_and_its_published_pem(tmp_path: Path):
    settings = _settings(tmp_path)
    certificate = sign_certificate(settings, _body())
    assert verify_certificate(certificate, settings)
    assert verify_certificate(certificate, certificate.public_key)
    assert (tmp_path / "keys" / "signing_ed25519.pem").exists()  # made on first use


def test_an_altered_certificate_or_another_key_does_not_verify(tmp_path: Path):
    certificate = sign_certificate(_settings(tmp_path / "a"), _body())
    altered = Certificate(
        {**certificate.body, "removed": {"incidents": 0}}, certificate.signature, ""
    )
    assert not verify_certificate(altered, _settings(tmp_path / "a"))
    assert not verify_certificate(certificate, _settings(tmp_path / "b"))
    assert not verify_certificate(
        Certificate(certificate.body, "garbage!", ""), certificate.public_key
    )


def test_a_signed_record_of_another_type_is_not_a_certificate(tmp_path: Path):
    settings = _settings(tmp_path)
    body = {**_body(), "type": "something-else"}
    signed = Certificate(body, signing.sign_record(settings, body), "")
    assert signing.verify_record(settings, body, signed.signature)
    assert not verify_certificate(signed, settings)


def test_certificate_files_round_trip_and_junk_is_refused(tmp_path: Path):
    certificate = sign_certificate(_settings(tmp_path), _body())
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(certificate.to_json()), encoding="utf-8")
    assert load_certificate_file(path) == certificate
    path.write_text('{"signature": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match="not an erasure certificate"):
        load_certificate_file(path)
