"""Retention on the local backend: exactly the expired, un-held sessions go, through erasure."""

from __future__ import annotations

import datetime as dt

import pytest

from proctorlake.core.settings import Settings
from proctorlake.governance.legal_holds import HoldError, hold_history, place_hold, release_hold
from proctorlake.governance.retention import retention_log, run_retention
from proctorlake.governance.retention_policy import RetentionPolicyError, load_retention_policy
from proctorlake.storage import lake
from tests.fixtures.retention import write_retention_policy

SESSION_TABLES = ("exam_sessions", "media_chunks", "recording_quality")


def _sessions_in(settings: Settings, table: str) -> set[str]:
    return set(lake.read_table(settings, table).column("session_id").to_pylist())


def _object_sessions(settings: Settings) -> set[str]:
    root = settings.objects_root / "sessions"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def _snapshot(settings: Settings) -> dict:
    snap = {t: _sessions_in(settings, t) for t in SESSION_TABLES}
    snap["objects"] = _object_sessions(settings)
    return snap


@pytest.fixture
def window(settings: Settings, aged_session_factory) -> Settings:
    """uni-a keeps two years (the default), uni-long ten (an override)."""
    write_retention_policy(settings, {"uni-long": 3650})
    aged_session_factory(settings, "old-a", "uni-a", 800)
    aged_session_factory(settings, "old-a2", "uni-a", 731, student_id="stu-shared")
    aged_session_factory(settings, "young-a", "uni-a", 100, student_id="stu-shared")
    aged_session_factory(settings, "held-a", "uni-a", 900)
    aged_session_factory(settings, "old-long", "uni-long", 800)
    place_hold(settings, "held-a", "case 2024-17: disputed incident", "admin-1")
    return settings


ALL = {"old-a", "old-a2", "young-a", "held-a", "old-long"}


def test_retention_purges_exactly_the_expired_unheld_sessions(window: Settings) -> None:
    settings = window
    before = _snapshot(settings)
    assert all(found == ALL for found in before.values())

    report = run_retention(settings)

    assert {p["session_id"] for p in report.purged} == {"old-a", "old-a2"}
    assert report.held == ["held-a"]
    assert report.failed == []
    kept = ALL - {"old-a", "old-a2"}
    after = _snapshot(settings)
    assert all(found == kept for found in after.values()), after

    log = {r["session_id"]: r for r in retention_log(settings)}
    assert set(log) == {"old-a", "old-a2"}
    for session_id, row in log.items():
        assert row["status"] == "purged"
        assert row["retention_days"] == 730
        assert row["rows_removed"] > 0 and row["objects_removed"] > 0
        assert row["expired_at"] < dt.datetime.now(dt.UTC)
        # The same deletion path as GDPR erasure: a signed certificate in erasure_log.
        certificates = lake.duckdb_connection(settings).execute(
            "select count(*) from erasure_log where request_id = ? and session_id = ?",
            [row["erasure_request_id"], session_id],
        )
        assert certificates.fetchone()[0] == 1
    # The shared student's recent session and its rows stay.
    assert "young-a" in _sessions_in(settings, "exam_sessions")


def test_a_second_run_removes_nothing(window: Settings) -> None:
    settings = window
    run_retention(settings)
    after_first = _snapshot(settings)
    log_first = retention_log(settings)
    erasures = len(lake.read_table(settings, "erasure_log"))

    second = run_retention(settings)

    assert second.purged == [] and second.failed == []
    assert second.held == ["held-a"]
    assert _snapshot(settings) == after_first
    assert retention_log(settings) == log_first
    assert len(lake.read_table(settings, "erasure_log")) == erasures


def test_dry_run_lists_and_touches_nothing(window: Settings) -> None:
    settings = window
    before = _snapshot(settings)
    report = run_retention(settings, dry_run=True)
    assert sorted(report.would_purge) == ["old-a", "old-a2"]
    assert report.purged == []
    assert _snapshot(settings) == before
    assert retention_log(settings) == []


def test_releasing_a_hold_lets_retention_purge_it(window: Settings) -> None:
    settings = window
    run_retention(settings)
    assert "held-a" in _object_sessions(settings)
    release_hold(settings, "held-a", "case 2024-17 closed", "admin-2")
    history = hold_history(settings, "held-a")
    assert [(e.action, e.actor) for e in history] == [
        ("placed", "admin-1"),
        ("released", "admin-2"),
    ]

    report = run_retention(settings)

    assert [p["session_id"] for p in report.purged] == ["held-a"]
    assert "held-a" not in _object_sessions(settings)
    assert _sessions_in(settings, "exam_sessions") == {"young-a", "old-long"}


def test_a_later_clock_reaches_the_longer_override(window: Settings) -> None:
    settings = window
    in_ten_years = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650 - 799)
    report = run_retention(settings, now=in_ten_years)
    assert {p["session_id"] for p in report.purged} == {"old-a", "old-a2", "young-a", "old-long"}
    assert _sessions_in(settings, "exam_sessions") == {"held-a"}


def test_hold_requests_are_checked(window: Settings) -> None:
    settings = window
    with pytest.raises(HoldError, match="already under legal hold"):
        place_hold(settings, "held-a", "again", "admin-1")
    with pytest.raises(HoldError, match="not under legal hold"):
        release_hold(settings, "young-a", "nothing to lift", "admin-1")
    with pytest.raises(HoldError, match="no stored data"):
        place_hold(settings, "no-such-session", "case 1", "admin-1")
    with pytest.raises(HoldError, match="malformed"):
        place_hold(settings, "../etc", "case 1", "admin-1")
    with pytest.raises(HoldError, match="reason is required"):
        place_hold(settings, "young-a", "  ", "admin-1")
    assert [e.session_id for e in hold_history(settings)] == ["held-a"]


def test_a_broken_policy_file_is_a_clear_error(settings: Settings) -> None:
    assert load_retention_policy(settings).days_for("anyone") == 730
    write_retention_policy(settings, {"uni-x": 0})
    with pytest.raises(RetentionPolicyError, match="positive whole number"):
        run_retention(settings)
    settings.retention_policy_path.write_text("{not json")
    with pytest.raises(RetentionPolicyError, match="not a retention policy"):
        load_retention_policy(settings)
