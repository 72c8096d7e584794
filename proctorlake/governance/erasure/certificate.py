"""The signed erasure certificate: what was removed, from which store, for whom (hashed).

A certificate is a JSON document ``{"certificate": {...}, "signature": "...",
"public_key": "PEM"}``. The signature is Ed25519 over the canonical JSON of ``certificate``
(``proctorlake.governance.signing``), so anyone holding the installation's public key can check it
without ProctorLake. The embedded public key is informational: a verifier checks against the
key it trusts (the installation's, or one given explicitly), never against the embedded one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.governance import signing
from proctorlake.governance.erasure.state import ErasurePlan, certificate_path, write_json_atomic
from proctorlake.storage import lake

CERTIFICATE_TYPE = "proctorlake.erasure-certificate/v1"


@dataclass(frozen=True)
class Certificate:
    """A signed certificate as returned by the API and written to ``erasure_log``."""

    body: dict
    signature: str
    public_key: str

    @property
    def request_id(self) -> str:
        return self.body["request_id"]

    @property
    def noop(self) -> bool:
        return bool(self.body["noop"])

    def to_json(self) -> dict:
        return {
            "certificate": self.body,
            "signature": self.signature,
            "public_key": self.public_key,
        }

    @classmethod
    def from_json(cls, data: dict) -> Certificate:
        return cls(data["certificate"], data["signature"], data.get("public_key", ""))


def _stores(plan: ErasurePlan) -> dict:
    tables = {}
    for table in plan.tables:
        done = plan.progress.get(f"delta:{table.name}", {})
        tables[table.name] = {
            "layer": table.layer,
            # A step that crashed after its DELETE committed deletes 0 rows when resumed:
            # the count found when planning is what this request removed.
            "rows_removed": max(table.rows_found, done.get("rows_deleted", 0)),
            "files_purged": done.get("files_purged", 0),
            "noncurrent_versions_purged": done.get("noncurrent_versions_purged", 0),
            "history_starts_at_version": done.get("history_starts_at_version"),
        }
    objects = plan.progress.get("objects", {})
    return {
        "delta_tables": tables,
        "objects": {
            "objects_removed": objects.get("objects_removed", 0),
            "versions_removed": objects.get("versions_removed", 0),
            "delete_markers_removed": objects.get("delete_markers_removed", 0),
        },
        "broker": {
            "method": "crypto-shredding: per-session record keys destroyed",
            **plan.progress.get("broker_keys", {"keys_destroyed": 0}),
        },
        "caches": plan.progress.get("caches", {"cache_folders_removed": 0}),
        "anonymized": plan.progress.get("anonymize", {"anonymous_rows_kept": 0}),
    }


def build_certificate(plan: ErasurePlan, completed_at: str, note: str | None = None) -> dict:
    return {
        "type": CERTIFICATE_TYPE,
        "request_id": plan.request_id,
        "requested_at": plan.requested_at,
        "completed_at": completed_at,
        "student_id_hash": plan.student_id_hash,
        "scope": plan.scope,
        "session_ids": plan.session_ids,
        "noop": plan.noop,
        "note": note,
        "stores": _stores(plan),
    }


def sign_certificate(settings: Settings, body: dict) -> Certificate:
    return Certificate(body, signing.sign_record(settings, body), signing.public_key_pem(settings))


def verify_certificate(certificate: Certificate, trusted_key: Settings | str | bytes) -> bool:
    """True when the certificate was signed by the trusted key and not altered since."""
    if certificate.body.get("type") != CERTIFICATE_TYPE:
        return False
    return signing.verify_record(trusted_key, certificate.body, certificate.signature)


def load_certificate_file(path: Path) -> Certificate:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Certificate.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an erasure certificate ({exc})") from exc


def record_certificate(settings: Settings, plan: ErasurePlan, certificate: Certificate) -> Path:
    """Write the certificate file and its ``erasure_log`` row (by request id: idempotent)."""
    path = certificate_path(settings, plan.request_id)
    write_json_atomic(path, certificate.to_json())
    requested = dt.datetime.fromisoformat(plan.requested_at)
    institutions = sorted(set(plan.institution_ids))
    lake.merge_rows(
        settings,
        schemas.ERASURE_LOG,
        [
            {
                "request_id": plan.request_id,
                "session_id": plan.requested_session or "*",
                "institution_id": institutions[0] if len(institutions) == 1 else "*",
                "student_id_hash": plan.student_id_hash,
                "requested_at": requested,
                "completed_at": dt.datetime.fromisoformat(certificate.body["completed_at"]),
                "certificate_json": signing.canonical_bytes(certificate.body).decode("utf-8"),
                "signature": certificate.signature,
                "month": requested.strftime("%Y-%m"),
            }
        ],
        ["request_id"],
    )
    return path
