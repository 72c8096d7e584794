"""Retention on the loopback S3 server (versioned bucket): a purged session leaves no version."""

from __future__ import annotations

from proctorlake.core.settings import Settings
from proctorlake.governance.legal_holds import place_hold
from proctorlake.governance.retention import run_retention
from proctorlake.storage.object_store import S3ObjectStore, object_keys_for_session


def _versions(settings: Settings, session_id: str) -> int:
    store = S3ObjectStore(settings)
    listed = store.client.list_object_versions(
        Bucket=store.bucket, Prefix=object_keys_for_session(session_id)
    )
    return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))


def test_retention_on_s3_removes_all_versions_and_keeps_held(
    s3_settings: Settings, aged_session_factory
) -> None:
    aged_session_factory(s3_settings, "s3-old", "uni-a", 800)
    aged_session_factory(s3_settings, "s3-old-held", "uni-a", 800)
    aged_session_factory(s3_settings, "s3-young", "uni-a", 5)
    place_hold(s3_settings, "s3-old-held", "case 12", "admin-1")
    assert _versions(s3_settings, "s3-old") >= 3

    report = run_retention(s3_settings)

    assert [p["session_id"] for p in report.purged] == ["s3-old"]
    assert report.purged[0]["objects_removed"] >= 3
    assert _versions(s3_settings, "s3-old") == 0
    assert _versions(s3_settings, "s3-old-held") >= 3
    assert _versions(s3_settings, "s3-young") >= 3
    assert run_retention(s3_settings).purged == []
