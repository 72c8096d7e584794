"""The CLI side of erasure: ``proctorlake erase`` and ``proctorlake verify-certificate``.

The lead's ``proctorlake/app/cli.py`` parses arguments and calls these; each prints its result
(human-readable, or JSON with ``as_json``) and returns the process exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core.settings import Settings
from proctorlake.governance.erasure.certificate import load_certificate_file, verify_certificate
from proctorlake.governance.erasure.ids import ErasureError

Printer = Callable[[str], None]


@dataclass(frozen=True)
class CertificateCheck:
    valid: bool
    request_id: str | None
    reason: str


def verify_certificate_file(
    settings: Settings, path: Path, public_key_pem: str | None = None
) -> CertificateCheck:
    """Check a certificate file against the installation's key, or the PEM given."""
    try:
        certificate = load_certificate_file(path)
    except ValueError as exc:
        return CertificateCheck(False, None, str(exc))
    trusted = public_key_pem if public_key_pem is not None else settings
    if verify_certificate(certificate, trusted):
        return CertificateCheck(True, certificate.request_id, "signature valid")
    return CertificateCheck(False, certificate.request_id, "signature does not match")


def erase_command(
    settings: Settings,
    student_id: str,
    session_id: str | None,
    yes: bool,
    as_json: bool = False,
    out: Printer = print,
) -> int:
    """``proctorlake erase --student ID [--session ID] --yes``: 0 done, 2 refused or rejected."""
    from proctorlake.governance.erasure.runner import erase

    if not yes:
        out("erasure removes data for good: add --yes to confirm")
        return 2
    try:
        certificate = erase(settings, student_id, session_id, on_step_done=_progress(out, as_json))
    except ErasureError as exc:
        out(json.dumps({"error": str(exc)}) if as_json else f"error: {exc}")
        return 2
    if as_json:
        out(json.dumps(certificate.to_json(), indent=2, sort_keys=True))
    else:
        body = certificate.body
        verdict = "nothing to erase (already erased)" if body["noop"] else "erased"
        out(f"{verdict}: request {body['request_id']}, {len(body['session_ids'])} session(s)")
        for name, table in body["stores"]["delta_tables"].items():
            if table["rows_removed"]:
                out(f"  {name}: {table['rows_removed']} rows")
        objects = body["stores"]["objects"]
        out(f"  objects: {objects['objects_removed']} ({objects['versions_removed']} versions)")
        out(f"  broker keys destroyed: {body['stores']['broker'].get('keys_destroyed', 0)}")
        out(f"certificate: {settings.home / 'erasure' / 'certificates' / body['request_id']}.json")
    return 0


def _progress(out: Printer, as_json: bool) -> Callable[[str, dict], None] | None:
    if as_json:
        return None
    return lambda step, _result: out(f"  done: {step}")


def verify_certificate_command(
    settings: Settings,
    path: Path,
    public_key_path: Path | None = None,
    as_json: bool = False,
    out: Printer = print,
) -> int:
    """``proctorlake verify-certificate FILE [--public-key PEM]``: 0 valid, 1 invalid."""
    pem = public_key_path.read_text(encoding="ascii") if public_key_path else None
    check = verify_certificate_file(settings, path, pem)
    if as_json:
        out(
            json.dumps(
                {"valid": check.valid, "request_id": check.request_id, "reason": check.reason}
            )
        )
    else:
        out(f"{'VALID' if check.valid else 'INVALID'}: {check.reason} (request {check.request_id})")
    return 0 if check.valid else 1
