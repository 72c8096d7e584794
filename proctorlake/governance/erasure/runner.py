"""Plan, run and resume erasure requests; the one entry point the CLI, API and Dagster call.

A request is first validated and resolved into a plan (which sessions, how many rows in which
table, what anonymous counts to keep), and the plan is saved before anything is touched.
Before any step, the plan's sessions are sealed off (``erased_sessions.seal_off``): from then
on no process writes them again (API, workers, Dagster and the dashboard check the marker
right before each write), and writes already in flight have finished, so what the steps
delete stays deleted. Steps then run in a fixed order, each recorded when done:

1. ``anonymize``: keep the anonymous counts (computed while planning);
2. ``broker_keys``: destroy the sessions' record keys: the broker copies become unreadable
   and no producer can seal new records for these sessions, which also stops the realtime
   path from writing them again while the rest runs;
3. ``delta:<table>`` for every table, bronze, then silver, gold and audit; then, when the
   whole student is erased, ``accommodations`` (per student, keyed by the keyed hash);
4. ``objects``: recordings, manifests, identity photos, all versions;
5. ``caches``: thumbnails, scratch folders, the stream workers' checkpointed state;
6. ``certificate``: signed, written to ``erasure_log`` and returned.

Requests run one at a time (a lock file), so two erasures never race on a table.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core.schemas import ACCOMMODATIONS
from proctorlake.core.settings import Settings
from proctorlake.governance.erased_sessions import seal_off
from proctorlake.governance.erasure import anonymize, broker_keys, caches, delta_tables, objects
from proctorlake.governance.erasure.certificate import (
    Certificate,
    build_certificate,
    record_certificate,
    sign_certificate,
)
from proctorlake.governance.erasure.ids import (
    ErasureSessionUnknown,
    SessionNotOfStudent,
    SessionUnderLegalHold,
    UnknownStudent,
    check_session_id,
    check_student_id,
    student_hash,
)
from proctorlake.governance.erasure.state import (
    ErasurePlan,
    TablePlan,
    all_plans,
    certificate_path,
    erasure_dir,
    load_plan,
    save_plan,
    unfinished_plans,
)
from proctorlake.storage.file_lock import exclusive_lock

log = logging.getLogger("proctorlake.governance.erasure")

StepCallback = Callable[[str, dict], None]


def erasure_lock(settings: Settings) -> AbstractContextManager[None]:
    """One erasure at a time on this installation."""
    return exclusive_lock(erasure_dir(settings) / "erasure.lock")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _sessions_of_student(settings: Settings, student_id: str) -> dict[str, str]:
    """session_id -> institution_id for the student's sessions still in ``exam_sessions``."""
    table = delta_tables.open_delta(settings, "exam_sessions")
    if table is None:
        return {}
    # cast: merged files hold string_view (see delta_tables._session_filter)
    rows = table.to_pyarrow_dataset().to_table(
        columns=["session_id", "institution_id"],
        filter=pc.field("student_id").cast(pa.string()) == student_id,
    )
    return dict(
        zip(rows["session_id"].to_pylist(), rows["institution_id"].to_pylist(), strict=True)
    )


def _student_of_session(settings: Settings, session_id: str) -> str | None:
    table = delta_tables.open_delta(settings, "exam_sessions")
    if table is None:
        return None
    rows = table.to_pyarrow_dataset().to_table(
        columns=["student_id"], filter=pc.field("session_id").cast(pa.string()) == session_id
    )
    return rows["student_id"][0].as_py() if rows.num_rows else None


def _completed_erasures(settings: Settings, hashed: str) -> list[ErasurePlan]:
    return [p for p in all_plans(settings) if p.student_id_hash == hashed and p.done]


def _erased_in_log(settings: Settings, hashed: str) -> bool:
    table = delta_tables.open_delta(settings, "erasure_log")
    if table is None:
        return False
    return (
        table.to_pyarrow_dataset().count_rows(
            filter=pc.field("student_id_hash").cast(pa.string()) == hashed
        )
        > 0
    )


def _steps(tables: list[TablePlan], scope: str) -> list[str]:
    return [
        "anonymize",
        "broker_keys",
        *(f"delta:{t.name}" for t in tables),
        *(["accommodations"] if scope == "student" else []),
        "objects",
        "caches",
        "certificate",
    ]


def _new_plan(
    settings: Settings, hashed: str, session_id: str | None, sessions: dict[str, str]
) -> ErasurePlan:
    ids = sorted(sessions)
    tables = [
        TablePlan(t.name, t.layer, delta_tables.count_session_rows(settings, t.name, ids))
        for t in delta_tables.tables_in_erasure_order(settings)
    ]
    return ErasurePlan(
        request_id=uuid.uuid4().hex,
        student_id_hash=hashed,
        scope="session" if session_id else "student",
        requested_session=session_id,
        session_ids=ids,
        institution_ids=sorted(set(sessions.values())),
        requested_at=_now(),
        tables=tables,
        aggregates=anonymize.anonymous_rows(settings, ids),
        steps=_steps(tables, "session" if session_id else "student"),
    )


def _noop_plan(settings: Settings, hashed: str, session_id: str | None) -> ErasurePlan:
    return ErasurePlan(
        request_id=uuid.uuid4().hex,
        student_id_hash=hashed,
        scope="session" if session_id else "student",
        requested_session=session_id,
        session_ids=[],
        institution_ids=[],
        requested_at=_now(),
        tables=[],
        aggregates=[],
        steps=["certificate"],
        noop=True,
    )


def _refuse_held(settings: Settings, session_ids: list[str]) -> None:
    from proctorlake.governance.legal_holds import is_held

    held = [s for s in session_ids if is_held(settings, s)]
    if held:
        raise SessionUnderLegalHold(
            f"session(s) {', '.join(held)} are under legal hold; lift the hold to erase them"
        )


def plan_erasure(settings: Settings, student_id: str, session_id: str | None = None) -> ErasurePlan:
    """Validate and resolve a request, then save its plan; nothing is erased yet.

    Raises MalformedId, UnknownStudent, ErasureSessionUnknown or SessionNotOfStudent before writing
    anything. A student (or session) erased before gets a no-op plan, whose certificate says so.
    """
    check_student_id(student_id)
    if session_id is not None:
        check_session_id(session_id)
    sessions = _sessions_of_student(settings, student_id)
    if session_id is not None:
        owner = _student_of_session(settings, session_id)
        if owner is not None and owner != student_id:
            raise SessionNotOfStudent(f"session {session_id} belongs to another student")
        sessions = {s: i for s, i in sessions.items() if s == session_id}
    _refuse_held(settings, sorted(sessions))
    known = student_hash(settings, student_id, create=False)
    if not sessions:
        erased_before = known is not None and (
            any(
                session_id is None or session_id in p.session_ids
                for p in _completed_erasures(settings, known)
            )
            or (session_id is None and _erased_in_log(settings, known))
        )
        if not erased_before:
            if session_id is not None:
                raise ErasureSessionUnknown(f"session {session_id} has no data for this student")
            raise UnknownStudent("no data and no earlier erasure for this student id")
    with erasure_lock(settings):
        hashed = student_hash(settings, student_id)
        plan = (
            _new_plan(settings, hashed, session_id, sessions)
            if sessions
            else _noop_plan(settings, hashed, session_id)
        )
        save_plan(settings, plan)
    log.info(
        "erasure planned",
        extra={"request_id": plan.request_id, "sessions": len(plan.session_ids), "noop": plan.noop},
    )
    return plan


def _run_step(settings: Settings, plan: ErasurePlan, step: str) -> dict:
    ids = plan.session_ids
    if step == "anonymize":
        return anonymize.store_anonymous_rows(settings, plan.aggregates)
    if step == "broker_keys":
        return broker_keys.destroy_session_keys(settings, ids)
    if step.startswith("delta:"):
        return delta_tables.erase_sessions_from_table(settings, step.removeprefix("delta:"), ids)
    if step == "accommodations":
        # per student, not per session: kept by a session-scope erasure (later sittings)
        return delta_tables.erase_rows_from_table(
            settings, ACCOMMODATIONS.name, "student_id_hash", [plan.student_id_hash]
        )
    if step == "objects":
        totals: dict[str, int] = {}
        for session_id in ids:
            for key, value in objects.erase_session_objects(settings, session_id).items():
                totals[key] = totals.get(key, 0) + value
        return totals
    if step == "caches":
        totals = {}
        for session_id in ids:
            for key, value in caches.erase_session_caches(settings, session_id).items():
                totals[key] = totals.get(key, 0) + value
        return totals
    if step == "certificate":
        note = None
        if plan.noop:
            note = "nothing to erase: this student's data was already erased"
        certificate = sign_certificate(settings, build_certificate(plan, _now(), note))
        record_certificate(settings, plan, certificate)
        return {"certificate": str(certificate_path(settings, plan.request_id))}
    raise ValueError(f"unknown erasure step {step!r}")


def read_certificate(settings: Settings, request_id: str) -> Certificate:
    path = certificate_path(settings, request_id)
    return Certificate.from_json(json.loads(path.read_text(encoding="utf-8")))


def execute_plan(
    settings: Settings,
    request_id: str,
    on_step_done: StepCallback | None = None,
    only_prefix: str | None = None,
) -> Certificate | None:
    """Run the plan's unfinished steps in order (all, or those starting with ``only_prefix``).

    Returns the certificate once the last step is done (None while steps remain).
    """
    with erasure_lock(settings):
        plan = load_plan(settings, request_id)
        if plan.pending_steps():
            seal_off(settings, plan.session_ids)
        for step in plan.pending_steps():
            if only_prefix is not None and not step.startswith(only_prefix):
                continue
            result = _run_step(settings, plan, step)
            plan.progress[step] = result
            if step == "certificate":
                plan.completed_at = _now()
            save_plan(settings, plan)
            log.info("erasure step done", extra={"request_id": request_id, "step": step})
            if on_step_done is not None:
                on_step_done(step, result)
        return read_certificate(settings, request_id) if plan.done else None


def erase(
    settings: Settings,
    student_id: str,
    session_id: str | None = None,
    on_step_done: StepCallback | None = None,
) -> Certificate:
    """Erase a student (or one of their sessions) from every store; returns the certificate.

    Resumes the student's interrupted requests first; a repeat request is a no-op whose
    certificate says so. Raises an ``ErasureError`` (nothing touched) for malformed ids,
    unknown students and sessions of another student.
    """
    check_student_id(student_id)
    if session_id is not None:
        check_session_id(session_id)
    resumed: Certificate | None = None
    known = student_hash(settings, student_id, create=False)
    for plan in unfinished_plans(settings, known) if known else []:
        resumed = execute_plan(settings, plan.request_id, on_step_done)
    if resumed is not None:
        remaining = _sessions_of_student(settings, student_id)
        if (
            session_id is None
            and not remaining
            or session_id is not None
            and (session_id not in remaining)
        ):
            return resumed
    plan = plan_erasure(settings, student_id, session_id)
    certificate = execute_plan(settings, plan.request_id, on_step_done)
    assert certificate is not None
    return certificate


def _institution_of_session(settings: Settings, session_id: str) -> str | None:
    table = delta_tables.open_delta(settings, "exam_sessions")
    if table is None:
        return None
    rows = table.to_pyarrow_dataset().to_table(
        columns=["institution_id"], filter=pc.field("session_id").cast(pa.string()) == session_id
    )
    return rows["institution_id"][0].as_py() if rows.num_rows else None


def known_to_institution(settings: Settings, session_id: str, institution_id: str) -> bool:
    """The session is (or was, before an erasure) a session of this institution."""
    current = _institution_of_session(settings, session_id)
    if current is not None:
        return current == institution_id
    return any(
        session_id in plan.session_ids and plan.institution_ids == [institution_id]
        for plan in all_plans(settings)
    )


def check_erasable(settings: Settings, session_id: str, institution_id: str) -> None:
    """Raise the ``ErasureError`` an erasure of the session by this institution's admin would
    raise before touching anything (malformed id, not the institution's, under legal hold)."""
    check_session_id(session_id)
    if not known_to_institution(settings, session_id, institution_id):
        raise ErasureSessionUnknown(f"session {session_id} is unknown")
    _refuse_held(settings, [session_id])


def erase_session(
    settings: Settings, session_id: str, institution_id: str | None = None
) -> Certificate:
    """``DELETE /sessions/{session_id}/data``: erase one session, whoever its student is.

    With ``institution_id`` (the API passes the admin's), a session that is not, and never
    was, one of that institution's is an ``ErasureSessionUnknown``: the same answer as for an id
    nobody knows, so an admin learns nothing about other institutions' sessions.
    """
    if institution_id is not None:
        check_erasable(settings, session_id, institution_id)
    check_session_id(session_id)
    student_id = _student_of_session(settings, session_id)
    if student_id is not None:
        return erase(settings, student_id, session_id)
    for plan in reversed(all_plans(settings)):
        if session_id in plan.session_ids:
            if not plan.done:
                certificate = execute_plan(settings, plan.request_id)
                assert certificate is not None
                return certificate
            with erasure_lock(settings):
                noop = _noop_plan(settings, plan.student_id_hash, session_id)
                save_plan(settings, noop)
            certificate = execute_plan(settings, noop.request_id)
            assert certificate is not None
            return certificate
    raise ErasureSessionUnknown(f"session {session_id} is unknown")
