"""Bucket lifecycle rules on the loopback S3 server, and hold tags on real objects."""

from __future__ import annotations

import argparse
import json

import pytest

from proctorlake.app.storage_cli import add_storage_parser, run_storage_command
from proctorlake.core.settings import Settings
from proctorlake.governance.legal_holds import place_hold, release_hold
from proctorlake.governance.retention_policy import load_retention_policy
from proctorlake.governance.storage_policy import (
    COLD_AFTER_DAYS,
    EXPIRY_GRACE_DAYS,
    RETENTION_TAG,
    apply_lifecycle,
    lifecycle_rules,
)
from proctorlake.storage.object_store import S3ObjectStore, object_keys_for_session
from tests.fixtures.retention import write_retention_policy


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="proctorlake")
    add_storage_parser(parser.add_subparsers(dest="cmd"))
    return parser.parse_args(["storage", *argv])


def _tags(settings: Settings, session_id: str) -> dict[str, str]:
    store = S3ObjectStore(settings)
    found = {}
    for key in store.list(object_keys_for_session(session_id)):
        tags = store.client.get_object_tagging(Bucket=store.bucket, Key=key)["TagSet"]
        found[key] = {t["Key"]: t["Value"] for t in tags}.get(RETENTION_TAG, "")
    return found


def test_the_s3_server_accepts_the_rules(s3_settings: Settings) -> None:
    write_retention_policy(s3_settings, {"uni-long": 3650})
    policy = load_retention_policy(s3_settings)

    applied = apply_lifecycle(s3_settings, policy)

    by_id = {r["ID"]: r for r in applied}
    assert set(by_id) == {r["ID"] for r in lifecycle_rules(policy)}
    cold = by_id[f"recordings-cold-after-{COLD_AFTER_DAYS}-days"]
    assert cold["Transitions"][0]["Days"] == COLD_AFTER_DAYS
    assert cold["Transitions"][0]["StorageClass"] == "GLACIER_IR"
    for days in (730, 3650):
        rule = by_id[f"recordings-expire-{days}d-retention"]
        assert rule["Expiration"]["Days"] == days + EXPIRY_GRACE_DAYS
        assert rule["Filter"]["And"]["Tags"] == [{"Key": RETENTION_TAG, "Value": f"{days}d"}]
        assert rule["Filter"]["And"]["Prefix"] == "sessions/"
    # No rule ever matches a held session's tag.
    assert all("hold" not in json.dumps(r.get("Filter")) for r in applied)


def test_holds_retag_objects_so_no_expiry_rule_matches(
    s3_settings: Settings, aged_session_factory
) -> None:
    aged_session_factory(s3_settings, "s3-held", "uni-a", 10)
    aged_session_factory(s3_settings, "s3-free", "uni-a", 10)

    args = _parse("lifecycle", "--apply", "--json")
    assert run_storage_command(args, s3_settings) == 0
    assert set(_tags(s3_settings, "s3-free").values()) == {"730d"}

    place_hold(s3_settings, "s3-held", "case 9", "admin-1")
    held_tags = _tags(s3_settings, "s3-held")
    assert len(held_tags) >= 3  # original, analysis chunk, manifest
    assert set(held_tags.values()) == {"hold"}
    assert set(_tags(s3_settings, "s3-free").values()) == {"730d"}

    release_hold(s3_settings, "s3-held", "case 9 closed", "admin-1")
    assert set(_tags(s3_settings, "s3-held").values()) == {"730d"}


def test_lifecycle_cli_prints_the_rules_and_refuses_apply_locally(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    assert run_storage_command(_parse("lifecycle", "--json"), settings) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["applied"] is False
    assert [r["ID"] for r in printed["rules"]] == [
        r["ID"] for r in lifecycle_rules(load_retention_policy(settings))
    ]
    assert run_storage_command(_parse("lifecycle", "--apply"), settings) == 2
    assert "S3 buckets" in capsys.readouterr().err
