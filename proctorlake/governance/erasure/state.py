"""The erasure plan and its progress, persisted before anything is touched.

A plan names everything a request will remove (sessions, tables with row counts, the anonymous
aggregates to keep) and records each finished step with what it removed. It lives under
``PROCTORLAKE_HOME/erasure/requests/`` and holds no personal data: the student appears only
as a keyed hash, so a plan file left behind by a crash leaks nothing. Re-running a request
skips finished steps and redoes the interrupted one (every step is idempotent).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from proctorlake.core.settings import Settings


@dataclass
class TablePlan:
    name: str
    layer: str
    rows_found: int


@dataclass
class ErasurePlan:
    request_id: str
    student_id_hash: str
    scope: str  # "student" | "session"
    requested_session: str | None
    session_ids: list[str]
    institution_ids: list[str]
    requested_at: str
    tables: list[TablePlan]
    aggregates: list[dict]
    steps: list[str]
    noop: bool = False
    progress: dict[str, dict] = field(default_factory=dict)
    completed_at: str | None = None

    @property
    def done(self) -> bool:
        return self.completed_at is not None

    def pending_steps(self) -> list[str]:
        return [s for s in self.steps if s not in self.progress]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ErasurePlan:
        data = dict(data)
        data["tables"] = [TablePlan(**t) for t in data["tables"]]
        return cls(**data)


def erasure_dir(settings: Settings) -> Path:
    return settings.home / "erasure"


def _requests_dir(settings: Settings) -> Path:
    return erasure_dir(settings) / "requests"


def plan_path(settings: Settings, request_id: str) -> Path:
    return _requests_dir(settings) / f"{request_id}.json"


def certificate_path(settings: Settings, request_id: str) -> Path:
    return erasure_dir(settings) / "certificates" / f"{request_id}.json"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write, fsync, then rename: a crash leaves either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def save_plan(settings: Settings, plan: ErasurePlan) -> None:
    write_json_atomic(plan_path(settings, plan.request_id), plan.to_json())


def load_plan(settings: Settings, request_id: str) -> ErasurePlan:
    path = plan_path(settings, request_id)
    if not path.exists():
        raise KeyError(f"no erasure request {request_id!r}")
    return ErasurePlan.from_json(json.loads(path.read_text(encoding="utf-8")))


def all_plans(settings: Settings) -> list[ErasurePlan]:
    folder = _requests_dir(settings)
    if not folder.exists():
        return []
    plans = [
        ErasurePlan.from_json(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(folder.glob("*.json"))
    ]
    return sorted(plans, key=lambda p: p.requested_at)


def unfinished_plans(settings: Settings, student_id_hash: str) -> list[ErasurePlan]:
    return [p for p in all_plans(settings) if p.student_id_hash == student_id_hash and not p.done]
