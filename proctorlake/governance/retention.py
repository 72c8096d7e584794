"""Retention: purge sessions whose retention period has passed, through GDPR erasure.

Each institution keeps recordings for ``retention_days`` after the session's end (the
seed's two years unless ``PROCTORLAKE_RETENTION_DAYS`` or the per-institution policy file
says otherwise). A purge is an erasure of the session
(``proctorlake.governance.erasure.erase_session``):
the same steps, the same proof, the same signed certificate, so there is one way to delete.
What retention removed is written to ``retention_log``.

Resumable and idempotent: a ``started`` row is written before the erasure and completed
after it, so a run killed mid-way finishes the session on the next run; a purged session
has no ``exam_sessions`` row any more and is never picked again. Held sessions are skipped,
checked again under the hold lock right before each purge.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.governance.erasure import Certificate, ErasureError, erase_session
from proctorlake.governance.legal_holds import current_holds, hold_lock, is_held
from proctorlake.governance.retention_policy import RetentionPolicy, load_retention_policy
from proctorlake.storage import lake

STARTED = "started"
PURGED = "purged"
FAILED = "failed"


@dataclass(frozen=True)
class ExpiredSession:
    session_id: str
    institution_id: str
    ended_at: dt.datetime
    retention_days: int

    @property
    def expired_at(self) -> dt.datetime:
        return self.ended_at + dt.timedelta(days=self.retention_days)


def session_end(row: dict) -> dt.datetime | None:
    """When the retention clock starts: the end, or for a session that never ended (an
    abandoned tab) the last time it is known to have been alive."""
    return row.get("ended_at") or row.get("started_at") or row.get("created_at")


def expiry_candidates(
    settings: Settings, now: dt.datetime, policy: RetentionPolicy
) -> list[ExpiredSession]:
    """Every stored session past its institution's retention period (held ones included)."""
    table = lake.open_table(settings, schemas.EXAM_SESSIONS.name)
    if table is None:
        return []
    rows = table.to_pyarrow_dataset().to_table(
        columns=["session_id", "institution_id", "created_at", "started_at", "ended_at"]
    )
    expired = []
    for row in rows.to_pylist():
        ended = session_end(row)
        if ended is None:
            continue
        candidate = ExpiredSession(
            row["session_id"], row["institution_id"], ended, policy.days_for(row["institution_id"])
        )
        if candidate.expired_at <= now:
            expired.append(candidate)
    return sorted(expired, key=lambda s: (s.expired_at, s.session_id))


@dataclass
class RetentionReport:
    run_id: str
    now: dt.datetime
    dry_run: bool
    purged: list[dict] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    would_purge: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self) | {"now": self.now.isoformat()}


def _log_row(
    run_id: str,
    session: ExpiredSession,
    status: str,
    certificate: Certificate | None = None,
) -> dict:
    now = dt.datetime.now(dt.UTC)
    stores = certificate.body["stores"] if certificate is not None else None
    return {
        "session_id": session.session_id,
        "institution_id": session.institution_id,
        "session_ended_at": session.ended_at,
        "retention_days": session.retention_days,
        "expired_at": session.expired_at,
        "status": status,
        "erasure_request_id": certificate.request_id if certificate else None,
        "rows_removed": (
            sum(
                t["rows_removed"]
                for name, t in stores["delta_tables"].items()
                if name != schemas.RETENTION_LOG.name  # our own "started" row
            )
            if stores
            else None
        ),
        "objects_removed": stores["objects"]["objects_removed"] if stores else None,
        "object_versions_removed": stores["objects"]["versions_removed"] if stores else None,
        "run_id": run_id,
        "purged_at": now if status == PURGED else None,
        "month": now.strftime("%Y-%m"),
    }


def _write_log(settings: Settings, row: dict) -> None:
    lake.merge_rows(settings, schemas.RETENTION_LOG, [row], ["session_id"])


def _unfinished(settings: Settings) -> list[ExpiredSession]:
    table = lake.open_table(settings, schemas.RETENTION_LOG.name)
    if table is None:
        return []
    rows = table.to_pyarrow_dataset().to_table(
        filter=pc.field("status").cast(pa.string()) == STARTED
    )
    return [
        ExpiredSession(
            r["session_id"], r["institution_id"], r["session_ended_at"], r["retention_days"]
        )
        for r in rows.to_pylist()
    ]


def _first_certificate(settings: Settings, session_id: str) -> Certificate | None:
    """The certificate of the erasure that removed the session (not a later no-op)."""
    table = lake.open_table(settings, schemas.ERASURE_LOG.name)
    if table is None:
        return None
    rows = table.to_pyarrow_dataset().to_table(
        filter=pc.field("session_id").cast(pa.string()) == session_id
    )
    for row in sorted(rows.to_pylist(), key=lambda r: r["requested_at"]):
        body = json.loads(row["certificate_json"])
        if not body.get("noop"):
            return Certificate(body, row["signature"], "")
    return None


def _purge(settings: Settings, run_id: str, session: ExpiredSession) -> dict:
    _write_log(settings, _log_row(run_id, session, STARTED))
    certificate = erase_session(settings, session.session_id)
    if certificate.noop:  # resumed after the erasure itself had finished
        certificate = _first_certificate(settings, session.session_id) or certificate
    row = _log_row(run_id, session, PURGED, certificate)
    _write_log(settings, row)
    return {k: row[k] for k in ("session_id", "institution_id", "erasure_request_id")} | {
        "rows_removed": row["rows_removed"],
        "objects_removed": row["objects_removed"],
    }


def run_retention(
    settings: Settings,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> RetentionReport:
    """Purge every expired, un-held session; ``dry_run`` only lists what would go."""
    now = now or dt.datetime.now(dt.UTC)
    policy = load_retention_policy(settings)
    report = RetentionReport(uuid.uuid4().hex, now, dry_run)
    if not dry_run:
        for session in _unfinished(settings):
            progress(f"resuming the purge of {session.session_id}")
            report.purged.append(_purge(settings, report.run_id, session))
            report.resumed.append(session.session_id)
    candidates = expiry_candidates(settings, now, policy)
    held = set(current_holds(settings))
    for index, session in enumerate(candidates, 1):
        if session.session_id in held:
            report.held.append(session.session_id)
            continue
        if dry_run:
            report.would_purge.append(session.session_id)
            continue
        progress(f"[{index}/{len(candidates)}] purging {session.session_id}")
        with hold_lock(settings):
            if is_held(settings, session.session_id):  # placed since the list was read
                report.held.append(session.session_id)
                continue
            try:
                report.purged.append(_purge(settings, report.run_id, session))
            except ErasureError as exc:  # rejected before anything was touched
                _write_log(settings, _log_row(report.run_id, session, FAILED))
                report.failed.append({"session_id": session.session_id, "error": str(exc)})
    return report


def retention_log(settings: Settings) -> list[dict]:
    rows = lake.read_table(settings, schemas.RETENTION_LOG.name).to_pylist()
    return sorted(rows, key=lambda r: (r["purged_at"] or r["expired_at"], r["session_id"]))
