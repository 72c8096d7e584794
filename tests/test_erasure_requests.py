"""Erasure requests: bad ids and unknown students touch nothing, a crash mid-way resumes,
a repeat is a signed no-op, one session can be erased alone, and certificates verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings
from proctorlake.governance.erasure import (
    MalformedId,
    SessionNotOfStudent,
    UnknownStudent,
    erase,
    erase_session,
    verify_certificate_file,
)
from proctorlake.governance.erasure.commands import erase_command, verify_certificate_command
from proctorlake.governance.erasure.ids import SessionUnderLegalHold
from proctorlake.governance.erasure.state import all_plans
from proctorlake.storage import lake
from tests.fixtures.erasure import build_lakehouse


def snapshot(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()
    }


@pytest.fixture
def lakehouse(settings: Settings, tmp_path: Path):
    return build_lakehouse(settings, tmp_path / "work")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 200, "../etc", "rm -rf'", None])
def test_malformed_student_id_touches_nothing(settings, lakehouse, bad) -> None:
    before = snapshot(settings.home)
    with pytest.raises(MalformedId):
        erase(settings, bad)
    assert snapshot(settings.home) == before


def test_unknown_student_touches_nothing(settings, lakehouse) -> None:
    before = snapshot(settings.home)
    with pytest.raises(UnknownStudent, match="no data"):
        erase(settings, "stu-NOBODY-0000")
    assert snapshot(settings.home) == before
    assert erase_command(settings, "stu-NOBODY-0000", None, yes=True, out=lambda _: None) == 2
    assert snapshot(settings.home) == before


def test_session_of_another_student_is_refused(settings, lakehouse) -> None:
    alice, boris = lakehouse[0], lakehouse[1]
    before = snapshot(settings.home)
    with pytest.raises(SessionNotOfStudent):
        erase(settings, alice.student_id, boris.session_ids[0])
    assert snapshot(settings.home) == before


def test_one_session_then_the_rest_then_a_signed_noop(settings, lakehouse, tmp_path) -> None:
    alice = lakehouse[0]
    first = erase_session(settings, "sess-a1")
    assert first.body["scope"] == "session" and first.body["session_ids"] == ["sess-a1"]
    left = lake.read_table(settings, "exam_sessions").column("session_id").to_pylist()
    assert "sess-a1" not in left and "sess-a2" in left

    second = erase(settings, alice.student_id)
    assert second.body["session_ids"] == ["sess-a2"] and not second.noop
    assert second.body["student_id_hash"] == first.body["student_id_hash"]

    third = erase(settings, alice.student_id)
    assert third.noop and third.body["session_ids"] == []
    assert "already erased" in third.body["note"]
    assert erase_session(settings, "sess-a1").noop
    requests = lake.read_table(settings, "erasure_log").column("request_id").to_pylist()
    assert len(requests) == 4  # every request is audited, no-ops included

    path = settings.home / "erasure" / "certificates" / f"{second.request_id}.json"
    assert verify_certificate_file(settings, path).valid
    assert verify_certificate_command(settings, path, out=lambda _: None) == 0
    forged = json.loads(path.read_text())
    forged["certificate"]["stores"]["delta_tables"]["exam_sessions"]["rows_removed"] = 0
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))
    assert not verify_certificate_file(settings, forged_path).valid
    assert verify_certificate_command(settings, forged_path, out=lambda _: None) == 1
    (tmp_path / "junk.json").write_text("not json")
    assert not verify_certificate_file(settings, tmp_path / "junk.json").valid


_KILL_AFTER_EXAM_SESSIONS = textwrap.dedent(
    """
    import os, signal, sys
    from proctorlake.governance.erasure import erase
    from proctorlake.core.settings import load_settings

    def die_after_exam_sessions(step, _result):
        if step == "delta:exam_sessions":
            os.kill(os.getpid(), signal.SIGKILL)

    erase(load_settings(), sys.argv[1], on_step_done=die_after_exam_sessions)
    """
)


@pytest.mark.slow
def test_killed_midway_then_rerun_completes(settings, lakehouse, tmp_path) -> None:
    alice, others = lakehouse[0], lakehouse[1:]
    script = tmp_path / "erase_and_die.py"
    script.write_text(_KILL_AFTER_EXAM_SESSIONS)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.run([sys.executable, str(script), alice.student_id], env=env, timeout=300)
    assert run.returncode == -9  # really killed, mid-way

    [plan] = all_plans(settings)
    assert not plan.done and "delta:exam_sessions" in plan.progress
    assert "objects" not in plan.progress
    sessions = lake.read_table(settings, "exam_sessions").column("session_id").to_pylist()
    assert not set(alice.session_ids) & set(sessions)  # that table is already erased
    assert (settings.home / "objects" / "sessions" / "sess-a1").exists()  # objects not yet

    certificate = erase(settings, alice.student_id)
    assert certificate.request_id == plan.request_id and not certificate.noop
    # Counted when planned, so the rows deleted before the crash are still certified.
    assert certificate.body["stores"]["delta_tables"]["exam_sessions"]["rows_removed"] == 2
    assert not (settings.home / "objects" / "sessions" / "sess-a1").exists()
    for table in ("media_chunks", "detection_events", "incidents", "identity_verifications"):
        ids = set(lake.read_table(settings, table).column("session_id").to_pylist())
        assert ids == {s for o in others for s in o.session_ids}, table
    assert erase(settings, alice.student_id).noop


def test_dagster_job_runs_a_planned_request(settings, lakehouse) -> None:
    from dagster_project.erasure_job import erasure_job
    from dagster_project.resources import ProctorLakeResource
    from proctorlake.governance.erasure import plan_erasure

    plan = plan_erasure(settings, lakehouse[1].student_id)
    config = {"request_id": plan.request_id}
    result = erasure_job.execute_in_process(
        run_config={
            "ops": {
                name: {"config": config}
                for name in (
                    "keep_anonymous_counts",
                    "shred_broker_keys",
                    "erase_delta_tables",
                    "erase_objects",
                    "erase_caches",
                    "sign_certificate",
                )
            }
        },
        resources={"proctorlake": ProctorLakeResource(home=str(settings.home))},
    )
    assert result.success
    assert result.output_for_node("sign_certificate") == plan.request_id
    sessions = lake.read_table(settings, "exam_sessions").column("session_id").to_pylist()
    assert "sess-b1" not in sessions and "sess-a1" in sessions


def test_a_session_under_legal_hold_is_not_erased(settings, lakehouse) -> None:
    from proctorlake.governance.legal_holds import place_hold, release_hold

    alice = lakehouse[0]
    session_id = alice.session_ids[0]
    place_hold(settings, session_id, "disputed incident", "admin-1")
    before = snapshot(settings.home)
    with pytest.raises(SessionUnderLegalHold, match="legal hold"):
        erase(settings, alice.student_id, session_id)
    assert snapshot(settings.home) == before
    release_hold(settings, session_id, "dispute settled", "admin-1")
    assert erase(settings, alice.student_id, session_id).body["noop"] is False
