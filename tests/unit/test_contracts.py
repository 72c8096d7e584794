"""Settings, exam policy and object keys: the contracts every room reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctorlake.core.policy import ExamPolicy, ExamPolicyError
from proctorlake.core.settings import load_settings
from proctorlake.storage.object_store import chunk_key, manifest_key, object_keys_for_session


def test_settings_defaults_need_no_configuration(tmp_path: Path):
    settings = load_settings({"PROCTORLAKE_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()
    assert (settings.storage_backend, settings.kafka_bootstrap) == ("local", "127.0.0.1:9092")
    assert (settings.retention_days, settings.chunk_seconds) == (730, 300)
    assert settings.signing_key_path == tmp_path.resolve() / "keys" / "signing_ed25519.pem"
    assert settings.lti_platforms_path is None


def test_settings_follow_the_environment(tmp_path: Path):
    settings = load_settings(
        {
            "PROCTORLAKE_HOME": str(tmp_path),
            "PROCTORLAKE_KAFKA_PORT": "19092",
            "PROCTORLAKE_RETENTION_DAYS": "365",
            "PROCTORLAKE_STORAGE": "s3",
        }
    )
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.kafka_controller_port == 19093  # beside the broker unless told
    assert settings.retention_days == 365 and settings.storage_backend == "s3"


def test_exam_policy_default_acts_only_on_a_takeover():
    """``different_person`` is the one case the charter allows to act alone (issue 13)."""
    policy = ExamPolicy.from_json(None)
    assert policy == ExamPolicy(("different_person",), "medium")
    assert ExamPolicy.from_json("") == policy
    assert policy.ends_session_on("different_person")
    assert not policy.ends_session_on("multiple_faces")


def test_exam_policy_round_trips_through_its_json():
    policy = ExamPolicy(("multiple_faces", "stream_gap"), "high")
    assert ExamPolicy.from_json(policy.to_json()) == policy
    assert ExamPolicy.from_json(ExamPolicy().to_json()) == ExamPolicy()


def test_a_policy_naming_an_incident_type_nothing_emits_is_refused_at_load():
    with pytest.raises(ExamPolicyError, match="nothing emits"):
        ExamPolicy(("person_swapped",))
    with pytest.raises(ExamPolicyError, match="nothing emits"):
        ExamPolicy.from_json('{"extreme_incident_types": ["person_swapped"]}')
    with pytest.raises(ExamPolicyError, match="alert_min_severity"):
        ExamPolicy((), "urgent")


def test_a_session_stored_with_a_type_nothing_emits_still_loads():
    """A stored policy naming a type nothing emits (any more) must still load after an API
    restart: the type could never have fired, so it is dropped; the emitted ones stay."""
    stored = (
        '{"extreme_incident_types": ["person_swapped", "different_person"],'
        ' "alert_min_severity": "high"}'
    )
    assert ExamPolicy.from_stored_json(stored) == ExamPolicy(("different_person",), "high")
    with pytest.raises(ExamPolicyError):
        ExamPolicy.from_json(stored)


def test_a_policy_alerts_from_its_threshold_and_acts_only_on_its_extreme_types():
    policy = ExamPolicy(("multiple_faces",), "medium")
    assert [policy.alerts(s) for s in ("low", "medium", "high", "bogus")] == [
        False,
        True,
        True,
        False,
    ]
    assert policy.ends_session_on("multiple_faces") and not policy.ends_session_on("gaze_away")


def test_an_exam_policy_without_extreme_types_takes_no_automatic_action():
    assert ExamPolicy.from_json('{"alert_min_severity": "low"}').extreme_incident_types == ()


def test_chunk_keys_sort_by_time_within_the_session_prefix():
    keys = [chunk_key("s-1", "webcam", ms, "mp4") for ms in (300_000, 5_000, 1_200_000)]
    assert keys[1] == "sessions/s-1/webcam/000000005000.mp4"
    assert sorted(keys) == [keys[1], keys[0], keys[2]]
    assert all(k.startswith(object_keys_for_session("s-1")) for k in keys)


def test_one_sessions_prefix_does_not_hold_another_sessions_objects():
    assert not manifest_key("s-10").startswith(object_keys_for_session("s-1"))
    assert manifest_key("s-1") == "sessions/s-1/manifest.json"
